# shellcheck shell=bash
# A private Distribution registry (Debian's `docker-registry`) on 127.0.0.1, plain HTTP, no
# auth, storage under the work dir. Sourced after common.sh.
#   registry_start   sets REGISTRY (host:port) and REGISTRY_PID; stopped at exit
# Env: E2E_REGISTRY_PORT (default: a free port, so a registry already on :5000 does not collide).

REGISTRY=
REGISTRY_PID=

registry_start() {
  local dir=$E2E_WORK/registry port
  port=${E2E_REGISTRY_PORT:-$(e2e_free_port)}
  [[ $port =~ ^[0-9]+$ ]] || e2e_die "bad registry port: $port"
  REGISTRY=127.0.0.1:$port
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $REGISTRY
  secret: snaphost-e2e-$$
  headers:
    X-Content-Type-Options: [nosniff]
EOF
  docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
  REGISTRY_PID=$!
  e2e_on_exit registry_stop
  e2e_add_log registry "$dir/registry.log"
  local i
  for ((i = 0; i < 150; i++)); do
    if curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1; then
      e2e_log "registry up on http://$REGISTRY (pid $REGISTRY_PID)"
      return 0
    fi
    kill -0 "$REGISTRY_PID" 2>/dev/null || e2e_die "registry exited: $(tail -n 5 "$dir/registry.log" | tr '\n' ' ')"
    sleep 0.1
  done
  e2e_die "registry did not answer on http://$REGISTRY/v2/ within 15 s"
}

registry_stop() {
  [[ -n $REGISTRY_PID ]] || return 0
  e2e_stop_pid "$REGISTRY_PID" 5
  REGISTRY_PID=
}
