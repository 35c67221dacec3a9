#!/usr/bin/env bash
# Run containerd's snapshotter suite against one snaphost backend, served by the built CLI:
#
#   npm run build && bash test/conformance/run-backend.sh memory [run.sh options]
#
# Builds nothing of snaphost itself (dist/ must be current); extra arguments go to run.sh
# (-run REGEX, -v, --no-extras, --bench, ...). Exits with run.sh's status.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

if [ $# -lt 1 ] || [ -z "$1" ] || [ "${1#-}" != "$1" ]; then
  echo "usage: $0 <backend> [run.sh options]" >&2
  exit 2
fi
backend=$1
shift
# The daemon runs on snaphost's own Node.js runtime (scripts/install-deps.sh installs it).
# shellcheck source=scripts/lib/node-runtime.sh
source "$REPO/scripts/lib/node-runtime.sh"
snaphost_node_require
case "$backend" in
  *[!A-Za-z0-9._-]*) echo "$0: invalid backend name: $backend" >&2; exit 2 ;;
esac
if [ ! -f "$REPO/dist/core/cli/snaphost.js" ]; then
  echo "$0: $REPO/dist/core/cli/snaphost.js is missing; run 'npm run build' first" >&2
  exit 2
fi

# {root} and {socket} are filled in (shell-quoted) by the harness for each test.
cli=$(printf %q "$REPO/dist/core/cli/snaphost.js")
export SNAPSHOTTER_CMD="exec node $cli serve --backend $backend --root {root} --socket {socket}"
export SNAPSHOTTER_NAME=$backend
exec bash "$HERE/run.sh" "$@"
