#!/usr/bin/env bash
# End to end for registry credentials in lazy pulling (issue 5, "Credentials"): the registry sits
# behind lib/token-auth-proxy.mjs, which answers 401 with a Bearer challenge, issues tokens only
# for the right Basic credentials, lets each token live 2 s, and throttles blob bodies so that
# reading a 40 MiB file spans several token lifetimes. snaphost gets the credentials from a
# docker config file through DOCKER_CONFIG (inherited by the FUSE-serving process); containerd
# gets them from `ctr-remote image rpull --user`.
# Checks:
#   - rpull of the eStargz image through the auth proxy mounts every layer lazily;
#   - the FUSE-serving process logged where its credentials come from (the docker config);
#   - `ctr run` reads /data/big.bin (40 MiB, throttled) and its checksum is the original's;
#   - while it read, the proxy issued several tokens (each for the configured credentials) and
#     blob GETs used several of them; each was renewed before it expired (no 401 during the
#     read); no token request was refused, no blob request failed or broke off, and the
#     FUSE-serving process retried nothing;
#   - shutdown: no process and no mount is left.
# (Rotation of credentials in the docker config, helpers, mirrors and CAs are covered by the
# unit tests in test/unit/backends/stargz-lazy/registry/ against real local servers.)
#   bash test/e2e/stargz-lazy-auth.e2e.sh        (root; needs `npm run build`)
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/estargz-images.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/token-auth.sh"
. "$E2E_LIB/left-behind.sh"

SN=stargz-lazy
CTR_NAMESPACE=snaphost-e2e-auth
USER_NAME=e2e-user
PASSWORD='first pass:word'
TOKEN_TTL=2
RATE=$((3 * 1024 * 1024))

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node openssl flock fusermount base64
e2e_init stargz-lazy-auth
W=$E2E_WORK
sock() { echo "$W/sockets/$1.sock"; }
ROOT=$W/state/$SN
now_iso() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

registry_start
auth_proxy_start "$USER_NAME" "$PASSWORD" "$TOKEN_TTL" "$RATE"
bigfile_build

# ---- credentials for snaphost: a docker config found through DOCKER_CONFIG ------------------------
write_docker_config() { # PASSWORD: written whole, then renamed into place (as docker login does)
  mkdir -p "$W/docker"
  jq -n --arg host "$AUTH_PROXY" --arg auth "$(printf '%s:%s' "$USER_NAME" "$1" | base64 -w0)" \
    '{auths: {($host): {auth: $auth}}, psFormat: "table {{.ID}}"}' >"$W/docker/config.json.new" &&
    mv "$W/docker/config.json.new" "$W/docker/config.json"
}
write_docker_config "$PASSWORD"
export DOCKER_CONFIG=$W/docker

# Prefetch and background fetch off: every byte of big.bin is fetched by the container's read.
snaphost_user_config <<EOF
    {
      use: '$SN',
      options: {
        prefetch: { enabled: false },
        backgroundFetch: { enabled: false },
        readTimeoutMs: 120000,
      },
    },
EOF
E2E_CURRENT=containerd-config
snaphost_proxy_toml

E2E_CURRENT=serve
e2e_on_exit fused_stop "$ROOT"
snaphost_start "$CONFIG"
e2e_add_log fused "$ROOT/fused.log"
snaphost_wait_serving "$(sock "$SN")" || e2e_die "snaphost does not serve $(sock "$SN")"
containerd_start "$PROXY_TOML"
ctr_wait_snapshotter "$SN" 20 || e2e_die "containerd cannot reach $SN"

E2E_CURRENT=images
esgz_push "$BIGFILE_OCI" "$BIGFILE_TAG" snaphost-e2e/bigfile
IMG=$AUTH_PROXY/snaphost-e2e/bigfile:esgz
mapfile -t LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/bigfile:esgz")
[[ ${#LAYERS[@]} == 2 ]] || e2e_die "bigfile:esgz: expected 2 layers, got ${#LAYERS[@]}"
BIG_LAYER=${LAYERS[1]%% *}
WANT_SUM=$(bigfile_bytes | sha256sum | cut -d' ' -f1)

# ---- lazy pull through token auth ------------------------------------------------------------------
E2E_CURRENT=rpull
if out=$(timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http \
  --user "$USER_NAME:$PASSWORD" --snapshotter "$SN" "$IMG" 2>&1); then
  e2e_pass rpull-through-token-auth
else
  e2e_die "rpull $IMG failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
fi
fuse_count() { local n; n=$(fuse_mounts_below "$ROOT" | grep -c .); [[ $n == "$1" ]] || { echo "$n FUSE mounts below $ROOT, expected $1"; return 1; }; }
e2e_check lazy-mounts-per-layer fuse_count 2
blob_bytes_sent() { auth_log_since "$1" "select(.event == \"request\" and .method == \"GET\" and (.path | endswith(\"$BIG_LAYER\"))) | .bytes" | jq -s 'map(select(. > 0)) | add // 0'; }
mounted_bytes=$(blob_bytes_sent 0)
e2e_log "mounting fetched $mounted_bytes bytes of the big layer"

config_logged() { grep -F 'registry credentials: docker config' "$ROOT/fused.log" | grep -F "\"file\":\"$W/docker/config.json\"" >/dev/null; }
if e2e_wait 5 config_logged; then e2e_pass fused-uses-docker-config; else e2e_fail fused-uses-docker-config "no 'registry credentials: docker config' line naming $W/docker/config.json in $ROOT/fused.log (is DOCKER_CONFIG passed on?)"; fi

# ---- a long read spanning several token lifetimes --------------------------------------------------
E2E_CURRENT=long-read
FAILED_BEFORE=$(grep -c 'registry request failed' "$ROOT/fused.log")
START=$(now_iso)
t0=$(date +%s%N)
got=$(timeout 300 ctr --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" run --rm --snapshotter "$SN" "$IMG" "auth-read-$$" \
  /bin/sh -c 'sha256sum </data/big.bin' 2>&1)
ms=$((($(date +%s%N) - t0) / 1000000))
END=$(now_iso)
e2e_log "the container read /data/big.bin in $ms ms"
if [[ $got == "$WANT_SUM  -" ]]; then
  e2e_pass long-read-checksum
else
  e2e_fail long-read-checksum "expected $WANT_SUM, got: $(tail -n 3 <<<"$got" | tr '\n' '|')"
fi
if ((ms > 3 * TOKEN_TTL * 1000)); then
  e2e_pass long-read-spans-several-token-lifetimes
else
  e2e_fail long-read-spans-several-token-lifetimes "the read took $ms ms, not more than 3 token lifetimes ($TOKEN_TTL s): the test proves little"
fi

window() { auth_log_since "$START" "select(.t <= \"$END\") | $1"; }
issued=$(window 'select(.event == "token" and .status == 200) | .token' | grep -c .)
refused=$(window 'select(.event == "token" and .status != 200)' | grep -c .)
used=$(window "select(.event == \"request\" and (.path | endswith(\"$BIG_LAYER\")) and .token != null) | .token" | sort -u | grep -c .)
bad=$(window 'select(.event == "request" and (.path | contains("/blobs/")) and (([.status] | inside([200, 206, 401]) | not) or .error != null))' | head -n 3)
unauth=$(window 'select(.event == "request" and .status == 401)' | grep -c .)
sent=$(blob_bytes_sent "$START")
e2e_log "during the read: $issued tokens issued, $used used for the big layer, $unauth 401s, $sent bytes of the big layer sent"
if ((issued >= 3 && used >= 3)); then
  e2e_pass several-tokens-during-read
else
  e2e_fail several-tokens-during-read "$issued tokens issued, $used used for blob GETs of $BIG_LAYER (want >= 3 each)"
fi
# The client renews a token before it expires (from the challenge it saw once): no 401s.
if [[ $unauth == 0 ]]; then e2e_pass tokens-renewed-before-expiry; else e2e_fail tokens-renewed-before-expiry "$unauth requests answered 401 during the read"; fi
if [[ $refused == 0 ]]; then e2e_pass token-requests-authenticated; else e2e_fail token-requests-authenticated "$refused token requests refused"; fi
if [[ -z $bad ]]; then e2e_pass no-blob-request-failed; else e2e_fail no-blob-request-failed "$bad"; fi
FAILED_AFTER=$(grep -c 'registry request failed' "$ROOT/fused.log")
if [[ $FAILED_AFTER == "$FAILED_BEFORE" ]]; then
  e2e_pass fused-retried-nothing
else
  e2e_fail fused-retried-nothing "$((FAILED_AFTER - FAILED_BEFORE)) 'registry request failed' lines in $ROOT/fused.log during the read"
fi
if ((sent >= BIGFILE_SIZE / 2)); then
  e2e_pass read-came-through-the-proxy
else
  e2e_fail read-came-through-the-proxy "only $sent bytes of the big layer went through the proxy during the read"
fi

# ---- shutdown: nothing left behind ---------------------------------------------------------------
E2E_CURRENT=shutdown
ctr_ images rm --sync "$IMG" >/dev/null 2>&1 || e2e_fail image-rm "ctr images rm --sync $IMG failed"
containerd_stop
snaphost_terminate 20
check_sigterm_exit
fused_stop "$ROOT"
check_no_leftovers "$ROOT"

e2e_finish
