#!/usr/bin/env bash
# Installs everything the tests need on a bare Debian machine, then runs every test (`pnpm test`).
# Root is needed only when Chromium, PostgreSQL or python-gitlab are missing (they come from Debian's packages).
set -euo pipefail
cd "$(dirname "$0")/.."
export REDOCLY_TELEMETRY=off

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
# Debian's python3 (a pyenv or venv python3 on the PATH does not see Debian's modules).
/usr/bin/python3 -c 'import gitlab' 2>/dev/null || missing+=(python3-gitlab)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

pnpm_version=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm --version 2>/dev/null)" != "$pnpm_version" ]; then
  npm install --global --silent "pnpm@${pnpm_version}"
fi

# A throwaway PostgreSQL cluster on loopback, so the store tests also run on a real server.
eval "$(scripts/test-postgres.sh start)"
trap 'scripts/test-postgres.sh stop "$JOBS_API_TEST_PGDATA"' EXIT

pnpm test

# Node 22 and 24 too (package.json's engines: Node 20.19 or later), from the npm registry's `node` package: the
# spec pipeline, and the tests that run the code rather than type-check it, the packed tarballs included.
for major in 22 24; do
  node_bin=$(npx -y "node@${major}" -p process.execPath)
  echo "Node $("$node_bin" --version): spec check, server app, client and conformance against the server, packed tarballs"
  PATH="$(dirname "$node_bin"):$PATH" node scripts/spec.mjs check
  PATH="$(dirname "$node_bin"):$PATH" node node_modules/vitest/vitest.mjs run \
    packages/server/test/app.test.ts packages/client/test/integration.test.ts \
    packages/conformance/test/reference.test.ts test/tarballs.test.ts \
    --outputFile.junit="test-results/junit-node${major}.xml"
done
