// The package's files on disk, for Node: apart from the index so that browser bundles of the types and
// the operation table do not pull in `node:url`.
import { fileURLToPath } from "node:url";

/** Absolute path of the bundled spec (JSON), the single input of every generator and validator. */
export const specPath: string = fileURLToPath(new URL("../spec/openapi.json", import.meta.url));
/** Absolute path of the bundled spec (YAML). */
export const specYamlPath: string = fileURLToPath(new URL("../spec/openapi.yaml", import.meta.url));
/**
 * Absolute path of the API docs page, built by `pnpm generate` in the repository. The published package does
 * not carry it (2.6 MB, which every client install would download): `@jobs-api/server` ships its own copy.
 */
export const docsPath: string = fileURLToPath(new URL("../docs/index.html", import.meta.url));
