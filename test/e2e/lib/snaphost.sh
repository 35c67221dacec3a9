# shellcheck shell=bash
# The daemon under test, as a user runs it: `node dist/core/cli/snaphost.js serve --config FILE`.
# Sourced after common.sh.
#   snaphost_cli ARGS...            run the built CLI (60 s timeout)
#   snaphost_user_config <<EOF      write $E2E_WORK/plugins.config.ts as a user's config (`snaphost`
#     ENTRIES                       resolved from node_modules; sockets and roots under $E2E_WORK)
#   EOF                             with stdin as the `backends` entries; sets CONFIG. With
#                                   E2E_FS_TRANSPORT=kernel|fuse-native, every `stargz-lazy`
#                                   entry gets options.fs.transport set to it (the entries' text,
#                                   and the lines scripts edit with sed, stay as written)
#   snaphost_proxy_toml             `containerd-config` of $CONFIG into $E2E_WORK/proxy-plugins.toml;
#                                   sets PROXY_TOML (dies on failure)
#   snaphost_start CONFIG           start `serve`; sets SNAPHOST_PID, SNAPHOST_LOG; stopped at exit
#   snaphost_wait_serving SOCK...   wait until every socket answers a List (30 s)
#   snaphost_terminate SECONDS      SIGTERM, wait; sets SNAPHOST_EXIT (exit status, or "hung")
#   snaphost_kill                   SIGKILL, wait until it is gone (a crash: nothing is cleaned up)
#   snaphost_list SOCK              the backend's own snapshot list (NAME<TAB>KIND<TAB>PARENT)

SNAPHOST_PID=
SNAPHOST_LOG=
SNAPHOST_EXIT=
SNAPHOST_STARTS=0
SNAPHOST_CLI=$REPO_ROOT/dist/core/cli/snaphost.js

snaphost_cli() { timeout 60 node "$SNAPHOST_CLI" "$@"; }

snaphost_user_config() {
  local entries
  entries=$(cat)
  mkdir -p "$E2E_WORK/node_modules"
  ln -sfn "$REPO_ROOT" "$E2E_WORK/node_modules/snaphost"
  CONFIG=$E2E_WORK/plugins.config.ts
  local transport=${E2E_FS_TRANSPORT:-}
  case $transport in
    '' | kernel | fuse-native) ;;
    *) e2e_die "E2E_FS_TRANSPORT=$transport: expected kernel or fuse-native" ;;
  esac
  cat >"$CONFIG" <<EOF
import { defineConfig } from 'snaphost';

const config = defineConfig({
  socketDir: '$E2E_WORK/sockets',
  rootDir: '$E2E_WORK/state',
  backends: [
$entries
  ],
});
export default withFsTransport(config, '$transport');

/** E2E_FS_TRANSPORT: every stargz-lazy backend served with that FUSE transport ('' leaves them as written). */
function withFsTransport(c, transport) {
  if (!transport) return c;
  const backends = c.backends.map((b) => (b.use === 'stargz-lazy' ? { ...b, options: { ...b.options, fs: { ...b.options?.fs, transport } } } : b));
  return { ...c, backends };
}
EOF
  [[ -z $transport ]] || e2e_log "stargz-lazy backends use fs.transport $transport (E2E_FS_TRANSPORT)"
}

snaphost_proxy_toml() {
  PROXY_TOML=$E2E_WORK/proxy-plugins.toml
  snaphost_cli containerd-config --config "$CONFIG" >"$PROXY_TOML" 2>"$E2E_WORK/containerd-config.err" ||
    e2e_die "snaphost containerd-config failed: $(tail -n 3 "$E2E_WORK/containerd-config.err" | tr '\n' ' ')"
}

snaphost_start() {
  local config=$1
  [[ -f $SNAPHOST_CLI ]] || e2e_die "$SNAPHOST_CLI is missing: run npm run build"
  SNAPHOST_LOG=$E2E_WORK/snaphost.log
  SNAPHOST_STARTS=$((SNAPHOST_STARTS + 1))
  # A restart appends to the same log, after a marker line.
  echo "===== snaphost start #$SNAPHOST_STARTS $(date +%T.%N)" >>"$SNAPHOST_LOG"
  node "$SNAPHOST_CLI" serve --config "$config" --log-level "${E2E_SNAPHOST_LOG_LEVEL:-debug}" >>"$SNAPHOST_LOG" 2>&1 </dev/null &
  SNAPHOST_PID=$!
  if [[ $SNAPHOST_STARTS == 1 ]]; then
    e2e_on_exit snaphost_stop
    e2e_add_log snaphost "$SNAPHOST_LOG"
  fi
  e2e_log "snaphost serve started (pid $SNAPHOST_PID, log $SNAPHOST_LOG)"
}

snaphost_wait_serving() {
  local sock i
  for sock in "$@"; do
    for ((i = 0; i < 300; i++)); do
      [[ -S $sock ]] && snaphost_list "$sock" >/dev/null 2>&1 && break
      kill -0 "$SNAPHOST_PID" 2>/dev/null || return 1
      sleep 0.1
    done
    [[ $i -lt 300 ]] || return 1
  done
}

snaphost_list() { timeout 20 node "$E2E_LIB/list-snapshots.mjs" "$1"; }

snaphost_terminate() {
  local secs=$1 i
  SNAPHOST_EXIT=
  [[ -n $SNAPHOST_PID ]] || return 0
  kill -TERM "$SNAPHOST_PID" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$SNAPHOST_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SNAPHOST_PID" 2>/dev/null; then
    SNAPHOST_EXIT=hung
    return 0
  fi
  wait "$SNAPHOST_PID" 2>/dev/null
  SNAPHOST_EXIT=$?
  SNAPHOST_PID=
}

snaphost_kill() {
  local i
  [[ -n $SNAPHOST_PID ]] || return 0
  kill -KILL "$SNAPHOST_PID" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$SNAPHOST_PID" 2>/dev/null || break
    sleep 0.05
  done
  { wait "$SNAPHOST_PID"; } 2>/dev/null
  SNAPHOST_PID=
}

snaphost_stop() {
  [[ -n $SNAPHOST_PID ]] || return 0
  e2e_stop_pid "$SNAPHOST_PID" 15
  SNAPHOST_PID=
}
