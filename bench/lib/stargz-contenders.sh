# shellcheck shell=bash
# The two lazy snapshotters of the stargz benchmark, each started on a fresh, empty root for
# every measurement, and containerd restarted on an empty root with them. Sourced after
# bench/lib/common.sh, test/e2e/lib/{containerd,stargz-lazy,stargz-ref,debian-base}.sh and
# bench/lib/stargz-registry.sh.
#   sbench_contenders_init          write the snaphost config and containerd's [proxy_plugins]
#   sbench_lazy_options JSON        stargz-lazy's backend options from the next start on (default:
#                                   prefetch and background fetch off, like the Go peer's config)
#   sbench_fresh CONTENDER          stop everything, wipe every root (caches included) and
#                                   containerd's content and state, start CONTENDER (none for
#                                   `overlayfs`, containerd's built-in) and containerd;
#                                   SBENCH_LAZY_LATE=1: stargz-lazy with `startFusedAtOpen:
#                                   false` (fused starts inside the first remote prepare)
#   sbench_stop_all                 stop both snapshotters and containerd, unmount what is left
#   sbench_rss CONTENDER            prints "DAEMON_KIB FUSE_KIB": resident memory of the gRPC
#                                   daemon and of the FUSE-serving process (the same process for
#                                   the Go reference, so FUSE_KIB is 0)
#   sbench_cpu CONTENDER            prints the CPU seconds (user + system) its processes used so far
# Contenders:
#   stargz-lazy   `snaphost serve` with the stargz-lazy backend, prefetch and background fetch off
#                 (purely on demand);
#                 its FUSE-serving process (fused) starts when the backend opens (the default
#                 `startFusedAtOpen`: snaphost's socket appears once fused answers), and is
#                 stopped (SIGTERM) and its root wiped between steps
#   stargz-lazy@before  (with BEFORE_ROOT, bench/lib/common.sh) the same, served by that other
#                 build of snaphost, on its own socket and root
#   stargz-lazy@kernel, stargz-lazy@fuse-native  the same build with `fs.transport` set to that
#                 FUSE transport (issue 17), each on its own socket and root: the two transports
#                 side by side in one run (plain `stargz-lazy` is the default transport)
#   stargz-go     the Go reference (stargz-snapshotter v0.12 from Debian's sources,
#                 test/e2e/lib/stargz-ref.sh), noprefetch + no_background_fetch, log level info
# Env: SBENCH_LAZY_OPTIONS='{...}' stargz-lazy's backend options instead of the default (JSON),
# SBENCH_LAZY_LOG_LEVEL snaphost's (and fused's) log level (default info; trace logs every RPC),
# SBENCH_LAZY_ENV="VAR=value ..." extra environment of snaphost (and so of fused, which it
# starts), e.g. MALLOC_ARENA_MAX=2; BENCH_PROFILE=1 profiles snaphost and fused (bench/lib/stargz-cpu-prof.cjs; profiles in
# $E2E_WORK/profile, written when each process exits on SIGTERM).

SBENCH_LAZY_PID=
SBENCH_GO_PID=
SBENCH_PROXY_TOML=
SBENCH_SNAPHOST_CONFIG=
SBENCH_SNAPHOST_CONFIG_LATE=

# The lazy variants: CONTENDER@VARIANT runs in state-VARIANT/ and sockets-VARIANT/.
SBENCH_VARIANTS=(before kernel fuse-native)
sbench_variant() { if [[ $1 == *@* ]]; then echo "${1#*@}"; fi; }
sbench_root() { if [[ $1 == *@* ]]; then echo "$E2E_WORK/state-${1#*@}/${1%@*}"; else echo "$E2E_WORK/state/$1"; fi; }
sbench_socket() { if [[ $1 == *@* ]]; then echo "$E2E_WORK/sockets-${1#*@}/${1%@*}.sock"; else echo "$E2E_WORK/sockets/$1.sock"; fi; }

sbench_contenders_init() {
  mkdir -p "$E2E_WORK/state" "$E2E_WORK/sockets"
  SBENCH_SNAPHOST_CONFIG=$E2E_WORK/plugins.config.json
  SBENCH_SNAPHOST_CONFIG_LATE=$E2E_WORK/plugins-late.config.json
  local options='{"prefetch":{"enabled":false},"backgroundFetch":{"enabled":false}}'
  sbench_lazy_options "${SBENCH_LAZY_OPTIONS:-$options}"
  SBENCH_PROXY_TOML=$E2E_WORK/proxy-plugins.toml
  local c
  for c in stargz-lazy stargz-go ${BEFORE_ROOT:+stargz-lazy@before} stargz-lazy@kernel stargz-lazy@fuse-native; do
    printf '[proxy_plugins."%s"]\n  type = "snapshot"\n  address = "%s"\n' "$c" "$(sbench_socket "$c")"
  done >"$SBENCH_PROXY_TOML"
  e2e_on_exit sbench_stop_all
}

# The stargz-lazy backend's options (JSON) for the next sbench_lazy_start (and the same with
# `startFusedAtOpen: false` for SBENCH_LAZY_LATE=1).
sbench_lazy_options() {
  printf '{"socketDir":"%s","rootDir":"%s","backends":[{"use":"stargz-lazy","options":%s}]}\n' \
    "$E2E_WORK/sockets" "$E2E_WORK/state" "$1" >"$SBENCH_SNAPHOST_CONFIG"
  jq -c '.backends[0].options.startFusedAtOpen = false' "$SBENCH_SNAPHOST_CONFIG" >"$SBENCH_SNAPHOST_CONFIG_LATE"
  local f v
  for f in "$SBENCH_SNAPHOST_CONFIG" "$SBENCH_SNAPHOST_CONFIG_LATE"; do # the same for each variant
    for v in "${SBENCH_VARIANTS[@]}"; do
      jq -c --arg s "$E2E_WORK/sockets-$v" --arg r "$E2E_WORK/state-$v" --arg v "$v" \
        '.socketDir = $s | .rootDir = $r | if $v == "before" then . else .backends[0].options.fs.transport = $v end' \
        "$f" >"${f%.config.json}-$v.config.json"
    done
  done
}

sbench_lazy_start() { # [stargz-lazy (default) | stargz-lazy@VARIANT]
  local c=${1:-stargz-lazy} cli=$SNAPHOST_CLI before= env=()
  [[ $c == *@* ]] && before=-$(sbench_variant "$c")
  [[ $c == *@before ]] && cli=$BEFORE_CLI
  local log=$E2E_WORK/snaphost$before.log
  # shellcheck disable=SC2206 # VAR=value words on purpose
  [[ -n ${SBENCH_LAZY_ENV:-} ]] && env=($SBENCH_LAZY_ENV)
  if [[ ${BENCH_PROFILE:-0} == 1 ]]; then
    mkdir -p "$E2E_WORK/profile$before"
    env+=(NODE_OPTIONS="--require $BENCH_LIB/stargz-cpu-prof.cjs" SNAPHOST_BENCH_PROFILE_DIR="$E2E_WORK/profile$before")
  fi
  local config=$SBENCH_SNAPHOST_CONFIG
  [[ ${SBENCH_LAZY_LATE:-0} == 1 ]] && config=$SBENCH_SNAPHOST_CONFIG_LATE
  config=${config%.config.json}$before.config.json
  echo "===== start $(date +%T.%N)" >>"$log"
  env "${env[@]}" node "$cli" serve --config "$config" --log-level "${SBENCH_LAZY_LOG_LEVEL:-info}" >>"$log" 2>&1 </dev/null &
  SBENCH_LAZY_PID=$!
  bench_wait_socket "$(sbench_socket "$c")" "$SBENCH_LAZY_PID"
}

sbench_lazy_stop() {
  local root c
  if [[ -n $SBENCH_LAZY_PID ]]; then
    e2e_stop_pid "$SBENCH_LAZY_PID" 20 || e2e_log "snaphost (pid $SBENCH_LAZY_PID) needed SIGKILL"
    SBENCH_LAZY_PID=
  fi
  # fused outlives snaphost on purpose: stop it explicitly (it unmounts its layers).
  for c in stargz-lazy "${SBENCH_VARIANTS[@]/#/stargz-lazy@}"; do
    root=$(sbench_root "$c")
    [[ -d $root ]] || continue
    [[ -f $root/fused.log ]] && cat "$root/fused.log" >>"$E2E_WORK/fused${c#stargz-lazy}.log"
    fused_stop "$root"
    e2e_unmount_below "$root"
  done
}

sbench_go_start() {
  local root config
  root=$(sbench_root stargz-go)
  config=$E2E_WORK/stargz-go.toml
  [[ -n $STARGZ_REF_BIN ]] || stargz_ref_build
  mkdir -p "$root"
  cat >"$config" <<EOF
# purely on demand, like stargz-lazy with prefetch off (the reference benchmark's BG_FETCH=0)
noprefetch = true
no_background_fetch = true
[[resolver.host."$REGISTRY".mirrors]]
host = "$REGISTRY"
insecure = true
EOF
  echo "===== start $(date +%T.%N)" >>"$E2E_WORK/stargz-go.log"
  "$STARGZ_REF_BIN" --address "$(sbench_socket stargz-go)" --root "$root" --config "$config" --log-level info \
    >>"$E2E_WORK/stargz-go.log" 2>&1 </dev/null &
  SBENCH_GO_PID=$!
  bench_wait_socket "$(sbench_socket stargz-go)" "$SBENCH_GO_PID"
}

# SIGTERM: the Go reference unmounts every FUSE layer it made on Close.
sbench_go_stop() {
  if [[ -n $SBENCH_GO_PID ]]; then
    e2e_stop_pid "$SBENCH_GO_PID" 20 || e2e_log "the Go reference (pid $SBENCH_GO_PID) needed SIGKILL"
    SBENCH_GO_PID=
  fi
  e2e_unmount_below "$(sbench_root stargz-go)"
}

sbench_stop_all() {
  e2e_unmount_below "$E2E_WORK/mnt"
  containerd_stop
  sbench_lazy_stop
  sbench_go_stop
}

sbench_fresh() {
  local c=$1
  sbench_stop_all
  local v
  for v in "${SBENCH_VARIANTS[@]}"; do
    rm -rf "$E2E_WORK/state-$v/stargz-lazy" || e2e_die "cannot wipe the roots"
    rm -f "$E2E_WORK/sockets-$v/"*.sock
  done
  rm -rf "$E2E_WORK/state/stargz-lazy" "$E2E_WORK/state/stargz-go" "$E2E_WORK/containerd/root" "$E2E_WORK/containerd/state" ||
    e2e_die "cannot wipe the roots"
  rm -f "$E2E_WORK/sockets/"*.sock
  case $c in
    stargz-lazy | stargz-lazy@*) sbench_lazy_start "$c" ;;
    stargz-go) sbench_go_start ;;
    overlayfs) ;;
    *) e2e_die "unknown contender $c" ;;
  esac
  E2E_CONTAINERD_LOG_LEVEL=warn containerd_start "$SBENCH_PROXY_TOML" 2>/dev/null
  [[ $c == overlayfs ]] || ctr_wait_snapshotter "$c" 20 || e2e_die "containerd cannot reach $c"
}

sbench_pids() { # CONTENDER: its processes
  case $1 in
    stargz-lazy | stargz-lazy@*)
      echo "$SBENCH_LAZY_PID"
      fused_pids "$(sbench_root "$1")"
      ;;
    stargz-go) echo "$SBENCH_GO_PID" ;;
  esac
}

sbench_rss_of() { awk '/^VmRSS:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }

sbench_rss() {
  case $1 in
    stargz-lazy | stargz-lazy@*)
      local fused
      fused=$(fused_pids "$(sbench_root "$1")" | head -n 1)
      echo "$(sbench_rss_of "$SBENCH_LAZY_PID") $([[ -n $fused ]] && sbench_rss_of "$fused" || echo 0)"
      ;;
    stargz-go) echo "$(sbench_rss_of "$SBENCH_GO_PID") 0" ;;
  esac
}

sbench_cpu() {
  local p total=0 hz
  hz=$(getconf CLK_TCK)
  for p in $(sbench_pids "$1"); do
    total=$(awk -v t="$total" -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.2f", t + ($12 + $13) / hz }' "/proc/$p/stat" 2>/dev/null || echo "$total")
  done
  echo "$total"
}
