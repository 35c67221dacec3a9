# shellcheck shell=bash
# A registry behind expiring-token auth (lib/token-auth-proxy.mjs in front of the private
# registry) and an image with one big file, for the credentials e2e test. Sourced after
# common.sh, registry.sh and image.sh.
#   auth_proxy_start USER PASSWORD TTL RATE
#                        start the token auth proxy on 127.0.0.1 (a free port): tokens for
#                        USER:PASSWORD valid TTL seconds, blob bodies throttled to RATE bytes/s;
#                        sets AUTH_PROXY (host:port), AUTH_PROXY_PID, AUTH_PROXY_LOG (JSON lines,
#                        see the .mjs); stopped at exit
#   auth_proxy_restart PASSWORD
#                        stop it and start it again on the same port with another password
#                        (rotated credentials): every token it issued before is void
#   auth_log_since ISO_TIME [JQ_FILTER]
#                        the proxy's log lines at or after ISO_TIME, filtered with jq -c
#   bigfile_build        an image: busybox + /data/big.bin (BIGFILE_SIZE seeded random bytes);
#                        sets BIGFILE_OCI (OCI layout, tag $BIGFILE_TAG); built once, cached
#   bigfile_bytes        prints /data/big.bin

AUTH_PROXY=
AUTH_PROXY_PID=
AUTH_PROXY_LOG=
BIGFILE_RECIPE=1
BIGFILE_OCI=
BIGFILE_TAG=bigfile
BIGFILE_SIZE=$((40 * 1024 * 1024))

AUTH_PROXY_ARGS=()

auth_proxy_start() {
  local user=$1 password=$2 ttl=$3 rate=$4 dir=$E2E_WORK/auth-proxy
  mkdir -p "$dir"
  AUTH_PROXY_LOG=$dir/events.jsonl
  : >"$AUTH_PROXY_LOG"
  AUTH_PROXY_ARGS=(--user "$user" --ttl "$ttl" --rate "$rate")
  rm -f "$dir/port"
  node "$E2E_LIB/token-auth-proxy.mjs" --upstream "$REGISTRY" --port-file "$dir/port" --log "$AUTH_PROXY_LOG" \
    "${AUTH_PROXY_ARGS[@]}" --password "$password" >"$dir/proxy.log" 2>&1 </dev/null &
  AUTH_PROXY_PID=$!
  e2e_on_exit auth_proxy_stop
  e2e_add_log auth-proxy "$dir/proxy.log"
  auth_proxy_wait "tokens ${ttl}s, $rate B/s"
}

auth_proxy_restart() {
  local password=$1 dir=$E2E_WORK/auth-proxy port=${AUTH_PROXY##*:}
  auth_proxy_stop
  rm -f "$dir/port"
  node "$E2E_LIB/token-auth-proxy.mjs" --upstream "$REGISTRY" --port-file "$dir/port" --log "$AUTH_PROXY_LOG" --port "$port" \
    "${AUTH_PROXY_ARGS[@]}" --password "$password" >>"$dir/proxy.log" 2>&1 </dev/null &
  AUTH_PROXY_PID=$!
  auth_proxy_wait "restarted with another password"
}

auth_proxy_wait() {
  local what=$1 dir=$E2E_WORK/auth-proxy i
  for ((i = 0; i < 100; i++)); do
    if [[ -s $dir/port ]]; then
      AUTH_PROXY=127.0.0.1:$(cat "$dir/port")
      # Anonymous: a 401 with a Bearer challenge is the sign of life.
      if [[ $(curl -sS -o /dev/null -w '%{http_code}' "http://$AUTH_PROXY/v2/" 2>/dev/null) == 401 ]]; then
        e2e_log "token auth proxy on http://$AUTH_PROXY -> $REGISTRY (pid $AUTH_PROXY_PID, $what)"
        return 0
      fi
    fi
    kill -0 "$AUTH_PROXY_PID" 2>/dev/null || e2e_die "the token auth proxy exited: $(tail -n 5 "$dir/proxy.log" | tr '\n' ' ')"
    sleep 0.1
  done
  e2e_die "the token auth proxy did not answer within 10 s"
}

auth_proxy_stop() {
  [[ -n $AUTH_PROXY_PID ]] || return 0
  e2e_stop_pid "$AUTH_PROXY_PID" 5
  AUTH_PROXY_PID=
}

auth_log_since() {
  jq -c --arg since "$1" "select(.t >= \$since) | ${2:-.}" "$AUTH_PROXY_LOG"
}

bigfile_bytes() {
  openssl enc -aes-128-ctr -nosalt -K 6269672d66696c652d6f662d61757468 -iv 0 </dev/zero 2>/dev/null | head -c "$BIGFILE_SIZE"
}

bigfile_build_layout() {
  local dir=$1 oci=$1/oci
  image_busybox_rootfs "$dir/rootfs" || return 1
  mkdir -p "$dir/data"
  bigfile_bytes >"$dir/data/big.bin"
  find "$dir/data" -exec touch -h -d '2024-01-01 00:00:00Z' {} +
  umoci init --layout "$oci" &&
    umoci new --image "$oci:$BIGFILE_TAG" &&
    umoci insert --image "$oci:$BIGFILE_TAG" --history.created_by "1 busybox-static rootfs" "$dir/rootfs" / &&
    umoci insert --image "$oci:$BIGFILE_TAG" --history.created_by "2 big file" "$dir/data" /data &&
    umoci config --image "$oci:$BIGFILE_TAG" --no-history \
      --config.env 'PATH=/usr/sbin:/usr/bin:/sbin:/bin' --config.workingdir / --config.cmd /bin/sh &&
    umoci gc --layout "$oci"
}

bigfile_build() {
  image_cached_oci bigfile "$BIGFILE_RECIPE" bigfile_build_layout
  BIGFILE_OCI=$IMAGE_CACHED_OCI
}
