# shellcheck shell=bash
# Shared by bench/*.sh. Sourced, not executed. Builds on test/e2e/lib/common.sh (work dir,
# cleanup at exit, process helpers), which it sources; the other e2e helpers (registry,
# containerd, images) are sourced by the benchmarks that need them.
#   bench_init NAME                install deps + build (unless BENCH_SKIP_INSTALL=1), work dir
#   bench_daemon_start NAME LOG CMD...   CMD in the background, stopped (SIGTERM) at exit; sets BENCH_PID
#   bench_snaphost_start NAME PROFILE_DIR ARGS...   `node dist/core/cli/snaphost.js serve ARGS...`, with
#                                  --cpu-prof into PROFILE_DIR when that is not empty; sets BENCH_PID
#   bench_ref_server_start NAME ROOT SOCKET ARGS...  containerd's overlay snapshotter behind the
#                                  same gRPC API (test/conformance/ref-server.sh); sets BENCH_PID
#   bench_wait_socket SOCK PID     until SOCK answers (bench/lib/wait-serving.mjs, 30 s); dies when PID exits
#   bench_stop PID                 SIGTERM, wait (profiles are written on a clean exit)
#   bench_wait_quiet               until the CPUs are mostly idle (BENCH_QUIET_IDLE, BENCH_QUIET_TIMEOUT)
#   bench_drop_caches              sync + drop page/dentry/inode caches
#   bench_summarize RAW OUT        median, min, max per (contender, metric) of a raw TSV
#   bench_machine                  one line per fact about this machine (for the report)
#   bench_load_at_end              the load average line to append after the measurement
#   bench_before_machine           the line saying which build the NAME@before contenders run
# Results go to $BENCH_RESULTS (default bench/results in the repo).
# Env: BENCH_SKIP_INSTALL=1 skips scripts/install-deps.sh (dist/ must be current then),
#      SNAPHOST_CLI (default dist/core/cli/snaphost.js: another build of snaphost, e.g. to compare),
#      E2E_KEEP_WORK=1 keeps the work dir; BENCH_QUIET_IDLE / BENCH_QUIET_TIMEOUT (see
#      bench_wait_quiet); BEFORE_ROOT: another built checkout, run as the NAME@before contenders
#      of the benchmarks that have them (snapshot-ops.sh, stargz-lazy.sh), sets BEFORE_CLI.

. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../test/e2e/lib" && pwd)/common.sh"
BENCH_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_RESULTS=${BENCH_RESULTS:-$REPO_ROOT/bench/results}
BENCH_PID=
SNAPHOST_CLI=${SNAPHOST_CLI:-$REPO_ROOT/dist/core/cli/snaphost.js}
BEFORE_CLI=
if [[ -n ${BEFORE_ROOT:-} ]]; then
  # The CLI moved from dist/core/cli.js to dist/core/cli/snaphost.js (issue 14): either build.
  BEFORE_CLI=$(cd "$BEFORE_ROOT" 2>/dev/null && pwd)/dist/core/cli/snaphost.js
  [[ -f $BEFORE_CLI ]] || BEFORE_CLI=${BEFORE_CLI%/cli/snaphost.js}/cli.js
fi

bench_init() {
  local name=$1
  e2e_require_root
  if [[ ${BENCH_SKIP_INSTALL:-0} != 1 ]]; then
    bash "$REPO_ROOT/scripts/install-deps.sh" || { echo "bench: scripts/install-deps.sh failed" >&2; exit 1; }
  fi
  [[ -f $SNAPHOST_CLI ]] || { echo "bench: $SNAPHOST_CLI is missing: run npm run build" >&2; exit 1; }
  [[ -z ${BEFORE_ROOT:-} || -f $BEFORE_CLI ]] || { echo "bench: BEFORE_ROOT=$BEFORE_ROOT has no dist/core/cli/snaphost.js nor dist/core/cli.js: build it there" >&2; exit 1; }
  e2e_init "$name"
  mkdir -p "$BENCH_RESULTS"
}

bench_daemon_start() {
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 </dev/null &
  BENCH_PID=$!
  e2e_on_exit "e2e_stop_pid $BENCH_PID 20"
  e2e_add_log "$name" "$log"
  e2e_log "$name started (pid $BENCH_PID, log $log)"
}

bench_snaphost_start() {
  local name=$1 profile_dir=$2 node_args=()
  shift 2
  if [[ -n $profile_dir ]]; then
    mkdir -p "$profile_dir"
    node_args=(--cpu-prof --cpu-prof-dir "$profile_dir")
  fi
  bench_daemon_start "$name" "$E2E_WORK/$name.log" node "${node_args[@]}" "$SNAPHOST_CLI" serve "$@"
}

bench_ref_server_start() {
  local name=$1 root=$2 socket=$3 bin
  shift 3
  bin=$(bash "$REPO_ROOT/test/conformance/ref-server.sh" --path) || e2e_die "cannot build the reference server"
  bench_daemon_start "$name" "$E2E_WORK/$name.log" "$bin" --root "$root" --socket "$socket" "$@"
}

bench_wait_socket() {
  local sock=$1 pid=$2 i
  for ((i = 0; i < 300; i++)); do
    [[ -S $sock ]] && timeout 20 node "$BENCH_LIB/wait-serving.mjs" "$sock" 5 >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || e2e_die "the server of $sock (pid $pid) exited"
    sleep 0.1
  done
  e2e_die "$sock does not answer within 30 s"
}

bench_stop() { e2e_stop_pid "$1" 30 || e2e_log "pid $1 needed SIGKILL"; }

# Before a timed step: wait (up to BENCH_QUIET_TIMEOUT s, default 120) until at least
# BENCH_QUIET_IDLE (default 0.85) of the CPU time is idle, so other work on the machine does not
# land in a sample. BENCH_QUIET_IDLE=0 turns it off.
bench_wait_quiet() {
  local waited
  [[ ${BENCH_QUIET_IDLE:-0.85} == 0 ]] && return 0
  waited=$(node "$BENCH_LIB/wait-quiet.mjs" --idle "${BENCH_QUIET_IDLE:-0.85}" --timeout "${BENCH_QUIET_TIMEOUT:-120}")
  [[ ${waited%.*} -lt 2 ]] || e2e_log "waited ${waited}s for the machine to be quiet"
}

bench_drop_caches() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
}

# RAW: a TSV with a header line and columns contender, metric, rep, value.
# OUT: contender, metric, n, median, min, max (values kept as measured, 3 decimals).
bench_summarize() {
  local raw=$1 out=$2
  {
    printf 'contender\tmetric\tn\tmedian\tmin\tmax\n'
    awk -F'\t' 'NR > 1 {
        k = $1 "\t" $2; v[k] = v[k] " " $4
        if (!(k in seen)) { seen[k] = 1; order[++n] = k }
      }
      END {
        for (i = 1; i <= n; i++) {
          k = order[i]; m = split(substr(v[k], 2), a, " ")
          for (x = 1; x <= m; x++) for (y = x + 1; y <= m; y++) if (a[y] + 0 < a[x] + 0) { t = a[x]; a[x] = a[y]; a[y] = t }
          med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
          printf "%s\t%d\t%.3f\t%.3f\t%.3f\n", k, m, med, a[1], a[m]
        }
      }' "$raw"
  } >"$out"
}

# Names the build by its commit, never by its path (results are committed; a path names the machine).
bench_before_machine() {
  local rev
  rev=$(git -C "$BEFORE_ROOT" rev-parse --short HEAD 2>/dev/null) || { echo "NAME@before contenders: a build that is not a git checkout"; return 0; }
  echo "NAME@before contenders: a checkout at $rev$(git -C "$BEFORE_ROOT" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
}

bench_load_at_end() { echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"; }

bench_machine() {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "work dir fs: $(df -T "$E2E_WORK" | awk 'NR == 2 { print $2 " on " $1 }') ($(findmnt -no OPTIONS -T "$E2E_WORK"))"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine shows here)"
  echo "node: $(node -v)"
  # the containerd test/e2e/lib/containerd.sh starts (2.x: its own binaries), else the system's
  echo "containerd: $("${CONTAINERD_BIN_DIR:-}${CONTAINERD_BIN_DIR:+/}containerd" --version | awk '{ print $3 }')"
  echo "snaphost: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO_ROOT" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
}
