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
