#!/usr/bin/env bash
# Run containerd's snapshotter conformance suite (snapshots/testsuite) against a
# snapshotter that serves the containerd Snapshots gRPC API on a unix socket.
#
#   SNAPSHOTTER_CMD='node dist/core/cli/snaphost.js serve --backend memory --root {root} --socket {socket}' \
#   SNAPSHOTTER_NAME=memory ./run.sh [options] [-run REGEX] [-parallel N] [-v]
#
# Options:
#   --ref          test the reference server (containerd's overlay via ref-server); ignores SNAPSHOTTER_CMD
#   --bench        also run containerd's benchsuite (BenchmarkProxy); BENCHTIME=1x by default
#   --no-extras    only containerd's suite, not our extra API checks
#   -h|--help
# Other arguments are go-test flags (-run, -parallel, -v, -count, -timeout, -failfast, -short).
# -run matches per level: '/Basic', 'TestSnapshotterSuite/Update', 'TestExtras'.
# Output: live progress, a summary, then a final line "N passed, N failed, N skipped".
# Exit status non-zero on any failure. Logs: $CACHE/logs/<timestamp>/.
set -euo pipefail
CONF_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$CONF_HERE/lib.sh"

use_ref=0 bench=0 extras=1 verbose=0 have_run=0 have_timeout=0
targs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --ref) use_ref=1 ;;
    --bench) bench=1 ;;
    --no-extras) extras=0 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -v|-test.v|-v=true) verbose=1 ;;
    -run|-parallel|-count|-timeout|-cpu|-test.run|-test.parallel|-test.count|-test.timeout)
      f=${1#-}; f=${f#test.}
      [ $# -ge 2 ] || { conf_log "$1 needs a value"; exit 2; }
      [ "$f" = run ] && have_run=1; [ "$f" = timeout ] && have_timeout=1
      targs+=("-test.$f" "$2"); shift ;;
    -run=*|-parallel=*|-count=*|-timeout=*|-cpu=*|-failfast|-short|-failfast=*|-short=*)
      f=${1#-}
      case "$f" in run=*) have_run=1 ;; timeout=*) have_timeout=1 ;; esac
      targs+=("-test.$f") ;;
    -test.*) targs+=("$1") ;;
    *) conf_log "unknown argument: $1 (see --help)"; exit 2 ;;
  esac
  shift
done

conf_require_root
conf_ensure_deps
conf_build

if [ $use_ref = 1 ]; then
  export SNAPSHOTTER_CMD="$CONF_CACHE/bin/ref-server --root {root} --socket {socket} ${REF_SERVER_ARGS:-}"
  export SNAPSHOTTER_NAME=${SNAPSHOTTER_NAME:-overlayfs}
fi
if [ -z "${SNAPSHOTTER_CMD:-}" ]; then
  conf_log "SNAPSHOTTER_CMD is not set. Example:"
  conf_log "  SNAPSHOTTER_CMD='node dist/core/cli/snaphost.js serve --backend memory --root {root} --socket {socket}' $0"
  conf_log "or test the reference implementation: $0 --ref"
  echo "0 passed, 1 failed"
  exit 2
fi

[ $have_run = 1 ] || { if [ $extras = 1 ]; then targs+=(-test.run '^(TestSnapshotterSuite|TestExtras)$'); else targs+=(-test.run '^TestSnapshotterSuite$'); fi; }
[ $have_timeout = 1 ] || targs+=(-test.timeout 30m)

logdir="$CONF_CACHE/logs/$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$logdir/server"
# keep the 10 newest log dirs
ls -1dt "$CONF_CACHE"/logs/*/ 2>/dev/null | tail -n +11 | xargs -r rm -rf
export SNAPSHOTTER_LOG_DIR="$logdir/server"

conf_log "snapshotter: ${SNAPSHOTTER_NAME:-conformance}  cmd: $SNAPSHOTTER_CMD"
conf_log "logs: $logdir (test.log = full output, server/ = each server's stdout+stderr)"
rargs=(-suite "$CONF_CACHE/bin/suite.test" -json-log "$logdir/test.json" -text-log "$logdir/test.log")
[ $verbose = 1 ] && rargs+=(-v)
[ $bench = 1 ] && rargs+=(-bench "$CONF_CACHE/bin/bench.test" -benchtime "${BENCHTIME:-1x}")
# (no cd: SNAPSHOTTER_CMD may use paths relative to the caller's cwd)
set +e
"$CONF_CACHE/bin/report" "${rargs[@]}" -- "${targs[@]}"
rc=$?
set -e
exit $rc
