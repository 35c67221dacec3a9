# shellcheck shell=bash
# A private Distribution registry (Debian's `docker-registry`) on 127.0.0.1 for the stargz
# benchmark, like test/e2e/lib/registry.sh but with its JSON access log on: the log is how the
# benchmark counts the blob bytes each step made the registry send, without a proxy in the data
# path (a proxy would cost CPU on the very reads being timed). Sourced after common.sh.
#   sbench_registry_start        sets REGISTRY (host:port), REGISTRY_PID; stopped at exit
#   sbench_registry_mark         prints the current end of the access log (a mark)
#   sbench_registry_sent MARK [END]  prints "GETS BYTES": blob GETs answered since MARK (up to
#                                the mark END) and the body bytes they sent (manifests and /v2/
#                                probes are not counted)

REGISTRY=
REGISTRY_PID=
SBENCH_REGISTRY_LOG=

sbench_registry_start() {
  local dir=$E2E_WORK/registry port i
  port=$(e2e_free_port)
  REGISTRY=127.0.0.1:$port
  SBENCH_REGISTRY_LOG=$dir/registry.log
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: json
  accesslog:
    disabled: false
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $REGISTRY
  secret: snaphost-bench-$$
EOF
  docker-registry serve "$dir/config.yml" >"$SBENCH_REGISTRY_LOG" 2>&1 </dev/null &
  REGISTRY_PID=$!
  e2e_on_exit sbench_registry_stop
  for ((i = 0; i < 150; i++)); do
    if curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1; then
      e2e_log "registry up on http://$REGISTRY (pid $REGISTRY_PID)"
      return 0
    fi
    kill -0 "$REGISTRY_PID" 2>/dev/null || e2e_die "registry exited: $(tail -n 5 "$SBENCH_REGISTRY_LOG" | tr '\n' ' ')"
    sleep 0.1
  done
  e2e_die "registry did not answer on http://$REGISTRY/v2/ within 15 s"
}

sbench_registry_stop() {
  [[ -n $REGISTRY_PID ]] || return 0
  e2e_stop_pid "$REGISTRY_PID" 5
  REGISTRY_PID=
}

sbench_registry_mark() { wc -l <"$SBENCH_REGISTRY_LOG"; }

# The access log line of a request is written when its response is complete; a short wait lets
# the last one of a step land before it is counted.
sbench_registry_sent() {
  local end=${2:-}
  if [[ -z $end ]]; then
    sleep 0.2
    end=$(sbench_registry_mark)
  fi
  sed -n "$(($1 + 1)),${end}p" "$SBENCH_REGISTRY_LOG" | grep -F '"msg":"response completed"' |
    jq -r 'select(."http.request.method" == "GET" and (."http.request.uri" | test("/blobs/sha256:"))) | ."http.response.written"' |
    awk '{ n++; s += $1 } END { printf "%d %d\n", n, s }'
}
