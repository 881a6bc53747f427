// prepack: the published server carries its own copy of the API docs (packages/types/docs/index.html, built by
// `pnpm generate`), so that @jobs-api/types, which the client depends on, need not ship 2.6 MB of HTML.
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const source = fileURLToPath(new URL("../../types/docs/index.html", import.meta.url));
const target = fileURLToPath(new URL("../docs/index.html", import.meta.url));
if (!existsSync(source)) {
  console.error(`${source} is missing: run \`pnpm generate\` (or \`pnpm run build\`) first`);
  process.exit(1);
}
mkdirSync(fileURLToPath(new URL("../docs/", import.meta.url)), { recursive: true });
copyFileSync(source, target);
