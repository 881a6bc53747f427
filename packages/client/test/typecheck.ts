import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { typeCheckerFor } from "../../../test-support/readme-code.js";

/** Code blocks type-checked as modules of a project depending on `@jobs-api/client` (this package's source). */
export const typeCheck = typeCheckerFor(
  resolve(dirname(fileURLToPath(import.meta.url)), ".."),
  "@jobs-api/client",
);
