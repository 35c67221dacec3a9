# shellcheck shell=bash
# The counting (and on demand corrupting) registry proxy of lib/proxy/counting-proxy.mjs, in
# front of the private registry. Sourced after common.sh and registry.sh.
#   proxy_start              start it on 127.0.0.1 (a free port); sets PROXY (host:port),
#                            PROXY_PID, PROXY_LOG (one JSON line per request); stopped at exit
#   proxy_reset              zero the counters
#   proxy_blob_bytes DIGEST  response body bytes of GETs of that blob since the last reset
#   proxy_blob_requests DIGEST   how many GETs of that blob
#   proxy_corrupt DIGEST OFFSET  serve that blob with the byte at OFFSET flipped from now on
#   proxy_corrupt_served DIGEST  how many flipped bytes the proxy has sent so far
#   proxy_swap DIGEST OTHER  serve that blob with the bytes of blob OTHER (same repository)
#   proxy_clean              serve every blob unchanged again
#   proxy_log_mark           the number of requests logged so far (for proxy_blob_tail_gets)
#   proxy_blob_tail_gets DIGEST MARK
#                            "REQUESTS BYTES" of the GETs of that blob with a suffix range
#                            (`Range: bytes=-N`: a blob's tail) logged after MARK

PROXY=
PROXY_PID=
PROXY_LOG=

proxy_start() {
  local dir=$E2E_WORK/proxy i
  mkdir -p "$dir"
  PROXY_LOG=$dir/requests.jsonl
  rm -f "$dir/port"
  node "$E2E_LIB/proxy/counting-proxy.mjs" --upstream "$REGISTRY" --port-file "$dir/port" --log "$PROXY_LOG" \
    >"$dir/proxy.log" 2>&1 </dev/null &
  PROXY_PID=$!
  e2e_on_exit proxy_stop
  e2e_add_log proxy "$dir/proxy.log"
  for ((i = 0; i < 100; i++)); do
    if [[ -s $dir/port ]]; then
      PROXY=127.0.0.1:$(cat "$dir/port")
      if curl -fsS "http://$PROXY/v2/" >/dev/null 2>&1; then
        e2e_log "registry proxy on http://$PROXY -> $REGISTRY (pid $PROXY_PID)"
        return 0
      fi
    fi
    kill -0 "$PROXY_PID" 2>/dev/null || e2e_die "the registry proxy exited: $(tail -n 5 "$dir/proxy.log" | tr '\n' ' ')"
    sleep 0.1
  done
  e2e_die "the registry proxy did not answer within 10 s"
}

proxy_stop() {
  [[ -n $PROXY_PID ]] || return 0
  e2e_stop_pid "$PROXY_PID" 5
  PROXY_PID=
}

proxy_admin() { curl -fsS -X "$1" "http://$PROXY/_proxy/$2"; }
proxy_reset() { proxy_admin POST reset >/dev/null; }
proxy_clean() { proxy_admin POST clean >/dev/null; }
proxy_swap() { proxy_admin POST "swap?digest=$1&with=$2" >/dev/null; }
proxy_corrupt() { proxy_admin POST "corrupt?digest=$1&offset=$2" >/dev/null; }
proxy_stat() { proxy_admin GET stats | jq -r --arg d "$1" --arg f "$2" '.blobs[$d][$f] // 0'; }
proxy_blob_bytes() { proxy_stat "$1" bytes; }
proxy_blob_requests() { proxy_stat "$1" requests; }
proxy_corrupt_served() { proxy_stat "$1" corruptBytesServed; }
proxy_log_mark() { if [[ -f $PROXY_LOG ]]; then wc -l <"$PROXY_LOG"; else echo 0; fi; }
proxy_blob_tail_gets() {
  tail -n +$(($2 + 1)) "$PROXY_LOG" | jq -rs --arg d "$1" '
    [.[] | select(.method == "GET" and ((.path // "") | endswith("/blobs/" + $d)) and ((.range // "") | startswith("bytes=-")))]
    | "\(length) \(map(.bytes) | add // 0)"'
}
