# shellcheck shell=bash
# Shared by every test/e2e/*.e2e.sh: the work dir, PASS/FAIL bookkeeping, cleanup on exit.
# Sourced, not executed. After sourcing:
#   e2e_init NAME            make the work dir ($E2E_WORK) and install the exit trap
#   e2e_on_exit CMD...       run CMD at exit (last registered runs first), also on failure
#   e2e_pass NAME / e2e_fail NAME WHY / e2e_check NAME CMD...   record one check
#   e2e_finish               print "N passed, N failed" and exit non-zero on any failure
# Env: E2E_KEEP_WORK=1 keeps the work dir (logs, configs) after the run.

E2E_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$E2E_LIB/../../.." && pwd)
# node/npx are snaphost's own Node.js runtime (scripts/install-deps.sh installs it).
# shellcheck source=scripts/lib/node-runtime.sh
source "$REPO_ROOT/scripts/lib/node-runtime.sh"
E2E_PASSED=0
E2E_FAILED=0
E2E_WORK=
E2E_NAME=e2e
E2E_CLEANUPS=()
# Logs whose tail is printed when a check failed: "label=path" entries.
E2E_LOGS=()

e2e_log() { echo "[$E2E_NAME $(date +%T)] $*" >&2; }

e2e_die() {
  e2e_fail "${E2E_CURRENT:-setup}" "$*"
  e2e_finish
}

e2e_pass() {
  E2E_PASSED=$((E2E_PASSED + 1))
  echo "PASS $1"
}

e2e_fail() {
  E2E_FAILED=$((E2E_FAILED + 1))
  echo "FAIL $1: $2"
}

# e2e_check NAME CMD...: PASS when CMD exits 0, else FAIL with CMD's last output line.
e2e_check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    e2e_pass "$name"
  else
    e2e_fail "$name" "$(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
  fi
}

e2e_require_root() {
  [[ $(id -u) == 0 ]] || { echo "FAIL setup: must run as root (containerd, runc and mounts need it)"; echo "0 passed, 1 failed"; exit 1; }
}

# e2e_require_cmds CMD...: fail fast, naming what to install, when a tool is missing.
e2e_require_cmds() {
  local c missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "FAIL setup: missing commands: ${missing[*]} (run scripts/install-deps.sh)"
    echo "0 passed, 1 failed"
    exit 1
  fi
  # node must be the supported runtime, not an old system Node.js.
  if [[ " $* " == *" node "* ]] && (( $(node -p 'process.versions.node.split(".")[0]') < SNAPHOST_NODE_MIN_MAJOR )); then
    echo "FAIL setup: node $(command -v node) is $(node --version); snaphost needs Node.js >= $SNAPHOST_NODE_MIN_MAJOR (run scripts/install-deps.sh)"
    echo "0 passed, 1 failed"
    exit 1
  fi
}

e2e_on_exit() { E2E_CLEANUPS+=("$*"); }

e2e_add_log() { E2E_LOGS+=("$1=$2"); }

e2e_init() {
  E2E_NAME=$1
  e2e_require_root
  E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/snaphost-$E2E_NAME.XXXXXX")
  chmod 0755 "$E2E_WORK"
  trap e2e_cleanup EXIT
  trap 'e2e_log "interrupted"; exit 130' INT TERM HUP
  e2e_log "work dir $E2E_WORK"
}

# Mount points below DIR, one per line (from /proc/self/mountinfo).
e2e_mounts_below() { awk -v d="${1%/}/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo; }

# Unmount everything still mounted below DIR (deepest first).
e2e_unmount_below() {
  local dir=$1 m
  [[ -n $dir && -d $dir ]] || return 0
  e2e_mounts_below "$dir" | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || e2e_log "could not unmount $m"
  done
}

# PIDs of processes whose command line mentions DIR (processes this test started, e.g.
# containerd shims spawned with our private containerd address), excluding ourselves.
e2e_pids_mentioning() {
  local dir=$1 p
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p == "$$" || $p == "$BASHPID" ]] && continue
    tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "$dir/" && echo "$p"
  done
  return 0
}

# Stop PID: SIGTERM, wait up to SECONDS (default 10), then SIGKILL. Returns 0 if it is gone.
e2e_stop_pid() {
  local pid=$1 secs=${2:-10} i
  [[ -n $pid ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  e2e_log "pid $pid did not stop within ${secs}s; SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.2
  ! kill -0 "$pid" 2>/dev/null
}

e2e_cleanup() {
  local rc=$? i p
  trap - EXIT INT TERM HUP
  for ((i = ${#E2E_CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${E2E_CLEANUPS[$i]}" || e2e_log "cleanup step failed: ${E2E_CLEANUPS[$i]}"
  done
  if [[ -n $E2E_WORK && -d $E2E_WORK ]]; then
    for p in $(e2e_pids_mentioning "$E2E_WORK"); do
      e2e_log "stopping leftover process $p: $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | cut -c1-120)"
      e2e_stop_pid "$p" 5 || true
    done
    e2e_unmount_below "$E2E_WORK"
    if [[ ${E2E_KEEP_WORK:-0} == 1 ]]; then
      e2e_log "kept work dir $E2E_WORK"
    else
      rm -rf "$E2E_WORK" 2>/dev/null || e2e_log "could not remove $E2E_WORK completely"
    fi
  fi
  exit "$rc"
}

e2e_print_logs() {
  local entry label file
  for entry in "${E2E_LOGS[@]}"; do
    label=${entry%%=*}
    file=${entry#*=}
    [[ -f $file ]] || continue
    echo "----- last 40 lines of the $label log ($file)"
    tail -n 40 "$file"
  done
  [[ ${#E2E_LOGS[@]} -eq 0 ]] || echo "-----"
}

e2e_finish() {
  if [[ $E2E_FAILED -gt 0 ]]; then e2e_print_logs; fi
  echo "$E2E_PASSED passed, $E2E_FAILED failed"
  [[ $E2E_FAILED -eq 0 && $E2E_PASSED -gt 0 ]] && exit 0
  exit 1
}

# e2e_wait SECONDS CMD...: poll CMD every 0.1 s until it succeeds; non-zero on timeout.
e2e_wait() {
  local secs=$1 i
  shift
  for ((i = 0; i < secs * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# A free TCP port on 127.0.0.1 (the kernel picks it).
e2e_free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
