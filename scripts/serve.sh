#!/usr/bin/env bash
# Starts the snaphost daemon from a checkout (as root): installs what is missing, builds when
# the build is missing or older than the sources, then becomes `node dist/core/cli/snaphost.js serve`
# on snaphost's own Node.js (scripts/lib/node-runtime.sh; never the system's /usr/bin/node).
# Without --config it serves the repository's plugins.config.ts; relative paths in the
# arguments are relative to the caller's directory.
#   bash scripts/serve.sh [--config FILE] [--log-level L]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# snaphost's own Node.js runtime first on PATH (installed by install-deps.sh below).
# shellcheck source=scripts/lib/node-runtime.sh
source "$ROOT/scripts/lib/node-runtime.sh"

(
  cd "$ROOT"
  bash scripts/install-deps.sh --no-build
  if [[ ! -f dist/core/cli/snaphost.js ]] ||
     [[ -n $(find core backends package.json tsconfig.json -newer dist/core/cli/snaphost.js \( -name '*.ts' -o -name '*.json' \) -print -quit) ]]; then
    echo "[serve] npm run build" >&2
    npm run --silent build
  fi
)

snaphost_node_require
args=("$@")
has_config=0
for a in "$@"; do
  case "$a" in --config|--config=*|--backend|--backend=*) has_config=1 ;; esac
done
[[ $has_config == 1 ]] || args=(--config "$ROOT/plugins.config.ts" "${args[@]}")
exec node "$ROOT/dist/core/cli/snaphost.js" serve "${args[@]}"
