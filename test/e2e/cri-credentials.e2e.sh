#!/usr/bin/env bash
# End to end for private images under Kubernetes through snaphost's CRI image-service proxy
# (issue 15, "Private images under Kubernetes"): kubelet's role is played by the test tree's CRI
# client (lib/cri-client.mjs) talking to snaphost's `criProxy.listen` socket, as kubelet does with
# `--image-service-endpoint`; snaphost forwards to the CRI plugin of a private containerd (1.6 by
# default, 2.x with E2E_CONTAINERD=2) whose snapshotter is stargz-lazy. The registry sits behind
# lib/token-auth-proxy.mjs (Bearer tokens only for the right Basic credentials). Neither
# containerd nor snaphost has any credentials of its own (no auth in CRI's registry config, an
# empty DOCKER_CONFIG): the only ones are those in the PullImage request.
# Checks:
#   - a PullImage without credentials is refused (containerd really has none);
#   - PullImage with credentials through the proxy: lazy (the registry sent a small part of the
#     big layer), the FUSE process received the credentials of that one repository, `snaphost
#     status` counts one repository;
#   - a container (ctr run in CRI's namespace, on the CRI-pulled image) reads a not yet fetched
#     chunk: right bytes, and the range reads carried tokens issued for those credentials;
#   - rotation: the registry's password changes (the auth proxy restarts: every old token is
#     void, the old password refused); PullImage again with the new password; a new chunk read
#     authenticates with the new credentials;
#   - RemoveImage by image ID: the credentials are forgotten (the FUSE process is told, status
#     counts none), and a read of another unfetched chunk in the still-running container is
#     anonymous and refused (the registry's log: token requests without credentials, 401);
#   - no password, base64 of one, or token appears in snaphost's or the FUSE process's log;
#   - shutdown: no process and no mount is left.
#   bash test/e2e/cri-credentials.e2e.sh                 (root; needs `npm run build`)
#   E2E_CONTAINERD=2 bash test/e2e/cri-credentials.e2e.sh
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/cri-config.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/estargz-images.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/token-auth.sh"
. "$E2E_LIB/left-behind.sh"

SN=stargz-lazy
CTR_NAMESPACE=k8s.io
E2E_CONTAINERD_CRI=1
MAJOR=$(containerd_major)
USER_NAME=e2e-cri
PASSWORD_1='cri first:pass-7f3a'
PASSWORD_2='cri second:pass-91c4'
TOKEN_TTL=30
MIB=$((1024 * 1024))

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node openssl flock fusermount base64
e2e_init "cri-credentials-$MAJOR"
W=$E2E_WORK
ROOT=$W/state/$SN
CRI_SOCK=$W/sockets/cri.sock
now_iso() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
# kubelet's calls, through snaphost's proxy socket
cri() { timeout 150 node "$E2E_LIB/cri-client.mjs" "$CRI_SOCK" "$@"; }

registry_start
auth_proxy_start "$USER_NAME" "$PASSWORD_1" "$TOKEN_TTL" 0
bigfile_build
mkdir -p "$W/docker-empty"
export DOCKER_CONFIG=$W/docker-empty

# ---- snaphost: stargz-lazy (prefetch and background fetch off: only what is read is fetched) + criProxy
E2E_CURRENT=serve
snaphost_user_config <<EOF
    { use: '$SN', options: { prefetch: { enabled: false }, backgroundFetch: { enabled: false }, readTimeoutMs: 60000 } },
EOF
sed -i "s|^  rootDir: .*|&\\n  criProxy: { listen: '$CRI_SOCK', upstream: '$W/containerd/containerd.sock', credentialsTtlMs: 3600000 },|" "$CONFIG"
grep -q criProxy "$CONFIG" || e2e_die "could not add criProxy to $CONFIG"
e2e_check check-config snaphost_cli check --config "$CONFIG"
PROXY_TOML=$W/proxy-plugins.toml
snaphost_cli containerd-config --config "$CONFIG" --containerd "$MAJOR" --fragment >"$PROXY_TOML" 2>"$W/containerd-config.err" ||
  e2e_die "snaphost containerd-config failed: $(tail -n 3 "$W/containerd-config.err" | tr '\n' ' ')"
e2e_on_exit fused_stop "$ROOT"
snaphost_start "$CONFIG"
e2e_add_log fused "$ROOT/fused.log"
snaphost_wait_serving "$W/sockets/$SN.sock" || e2e_die "snaphost does not serve $SN"
for ((i = 0; i < 100; i++)); do [[ -S $CRI_SOCK ]] && break; sleep 0.1; done
[[ -S $CRI_SOCK ]] && e2e_pass cri-proxy-listening || e2e_die "no CRI proxy socket $CRI_SOCK"

# ---- containerd with CRI on stargz-lazy; registry hosts plain HTTP, no credentials anywhere ------
CERTS=$W/certs.d
cri_plain_http_hosts "$CERTS" "$REGISTRY" "$AUTH_PROXY"
cri_config_toml "$SN" "$CERTS" "$REGISTRY/snaphost-e2e/pause:unused" >"$W/cri.toml"
containerd_start "$PROXY_TOML" "$W/cri.toml"
ctr_wait_snapshotter "$SN" 20 || e2e_die "containerd cannot reach $SN"
if out=$(cri Version '{"version":"v1"}' 2>&1); then
  e2e_fail proxy-serves-image-service-only "RuntimeService.Version answered through the image proxy: $out"
elif grep -q UNIMPLEMENTED <<<"$out"; then
  e2e_pass proxy-serves-image-service-only
else
  e2e_fail proxy-serves-image-service-only "$out"
fi

E2E_CURRENT=images
esgz_push "$BIGFILE_OCI" "$BIGFILE_TAG" snaphost-e2e/private
IMG=$AUTH_PROXY/snaphost-e2e/private:esgz
mapfile -t LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/private:esgz")
[[ ${#LAYERS[@]} == 2 ]] || e2e_die "private:esgz: expected 2 layers, got ${#LAYERS[@]}"
BIG_LAYER=${LAYERS[1]%% *}
BIG_SIZE=${LAYERS[1]#* }
BIG_SIZE=${BIG_SIZE%% *}

auth_json() { jq -nc --arg u "$USER_NAME" --arg p "$1" '{username: $u, password: $p}'; }
pull_req() { jq -nc --arg i "$IMG" --argjson a "${1:-null}" '{image: {image: $i}} + (if $a == null then {} else {auth: $a} end)'; }
status_count() { snaphost_cli status --config "$CONFIG" --json | jq -r '.criProxy.repositoriesWithCredentials'; }
fused_received() { grep -F 'registry credentials received from snaphost' "$ROOT/fused.log" | tail -n 1; }

# ---- PullImage without credentials: refused (containerd has none of its own) ---------------------
E2E_CURRENT=anonymous-pull
if out=$(cri PullImage "$(pull_req)" 2>&1); then
  e2e_fail anonymous-pull-refused "PullImage without credentials succeeded: containerd has credentials of its own ($out)"
else
  e2e_pass anonymous-pull-refused
fi

# ---- PullImage with credentials, through the proxy: lazy, credentials kept --------------------------
E2E_CURRENT=pull
START=$(now_iso)
if out=$(cri PullImage "$(pull_req "$(auth_json "$PASSWORD_1")")" 2>&1) && IMAGE_ID=$(jq -er .image_ref <<<"$out"); then
  e2e_pass pull-with-credentials
else
  e2e_die "PullImage with credentials failed: $out"
fi
sent_since() { auth_log_since "$1" "select(.event == \"request\" and .method == \"GET\" and (.path | endswith(\"$BIG_LAYER\"))) | .bytes" | jq -s 'map(select(. > 0)) | add // 0'; }
pulled=$(sent_since "$START")
e2e_log "PullImage: the registry sent $pulled of the big layer's $BIG_SIZE bytes"
if ((pulled * 10 < BIG_SIZE)); then e2e_pass pull-lazy; else e2e_fail pull-lazy "the registry sent $pulled of $BIG_SIZE bytes (>= 10 %)"; fi
got_set() { fused_received | jq -e '.set >= 1 and .repositories == 1' >/dev/null; }
if e2e_wait 10 got_set; then e2e_pass fused-received-credentials; else e2e_fail fused-received-credentials "last: $(fused_received)"; fi
n=$(status_count)
if [[ $n == 1 ]]; then e2e_pass status-counts-one-repository; else e2e_fail status-counts-one-repository "snaphost status: $n"; fi

# ---- a container reads unfetched chunks ---------------------------------------------------------
E2E_CURRENT=read
CTR_ID=cri-cred-$$
if out=$(ctr_ run -d --snapshotter "$SN" "$IMG" "$CTR_ID" /bin/sh -c 'trap "exit 0" TERM; while :; do sleep 1; done' 2>&1); then
  e2e_pass container-started
else
  e2e_die "ctr run on the CRI-pulled image failed: $out"
fi
# read_chunk MIB_OFFSET: 1 MiB at that offset of /data/big.bin, from inside the container; checks the bytes.
read_chunk() {
  local off=$1 want got
  want=$(bigfile_bytes | head -c $(((off + 1) * MIB)) | tail -c $MIB | sha256sum | cut -d' ' -f1)
  got=$(timeout 90 "$CTR" --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" task exec --exec-id "read-$off-$$" "$CTR_ID" \
    /bin/sh -c "dd if=/data/big.bin bs=$MIB skip=$off count=1 2>/dev/null | sha256sum" 2>&1)
  [[ $got == "$want  -" ]] || { echo "at $off MiB: expected $want, got: $(tail -n 2 <<<"$got" | tr '\n' '|')"; return 1; }
}
# authenticated_reads SINCE: blob GETs of the big layer since SINCE answered with data, each with a token.
authenticated_reads() {
  local ok bare
  ok=$(auth_log_since "$1" "select(.event == \"request\" and (.path | endswith(\"$BIG_LAYER\")) and (.status == 200 or .status == 206) and .token != null)" | grep -c .)
  bare=$(auth_log_since "$1" "select(.event == \"request\" and (.path | endswith(\"$BIG_LAYER\")) and (.status == 200 or .status == 206) and .token == null)" | grep -c .)
  ((ok >= 1 && bare == 0)) || { echo "$ok authenticated and $bare unauthenticated range reads of the big layer"; return 1; }
  echo "$ok"
}
START=$(now_iso)
e2e_check read-1-bytes read_chunk 8
e2e_check read-1-authenticated authenticated_reads "$START"
tokens_ok() { auth_log_since "$START" 'select(.event == "token" and .status == 200)' | grep -c .; }
e2e_log "read 1: $(tokens_ok) tokens issued for the credentials"

# ---- rotation: the registry's password changes; kubelet pulls again with the new one -------------
E2E_CURRENT=rotate
auth_proxy_restart "$PASSWORD_2"
code=$(curl -sS -o /dev/null -w '%{http_code}' -u "$USER_NAME:$PASSWORD_1" "http://$AUTH_PROXY/token?service=snaphost-e2e-auth&scope=repository:snaphost-e2e/private:pull")
if [[ $code == 401 ]]; then e2e_pass old-password-refused; else e2e_fail old-password-refused "token endpoint answered $code to the old password"; fi
if out=$(cri PullImage "$(pull_req "$(auth_json "$PASSWORD_2")")" 2>&1); then
  e2e_pass pull-with-rotated-credentials
else
  e2e_fail pull-with-rotated-credentials "$out"
fi
got_rotated() { fused_received | jq -e '.set >= 1 and .repositories == 1' >/dev/null && [[ $(grep -cF 'registry credentials received from snaphost' "$ROOT/fused.log") -ge 2 ]]; }
if e2e_wait 10 got_rotated; then e2e_pass fused-received-rotated-credentials; else e2e_fail fused-received-rotated-credentials "last: $(fused_received)"; fi
grep -F 'registry credentials rotated' "$SNAPHOST_LOG" >/dev/null && e2e_pass daemon-rotated || e2e_fail daemon-rotated "no 'registry credentials rotated' in $SNAPHOST_LOG"
START=$(now_iso)
e2e_check read-2-bytes read_chunk 20
e2e_check read-2-authenticated authenticated_reads "$START"
issued=$(tokens_ok)
if ((issued >= 1)); then e2e_pass read-2-new-token; else e2e_fail read-2-new-token "no token issued (with the new password) during read 2"; fi

# ---- RemoveImage (by image ID): the credentials are forgotten --------------------------------------
E2E_CURRENT=remove
if out=$(cri RemoveImage "$(jq -nc --arg i "$IMAGE_ID" '{image: {image: $i}}')" 2>&1); then
  e2e_pass remove-image-by-id
else
  e2e_fail remove-image-by-id "$out"
fi
got_forget() { fused_received | jq -e '.forgot >= 1 and .repositories == 0' >/dev/null; }
if e2e_wait 10 got_forget; then e2e_pass fused-forgot-credentials; else e2e_fail fused-forgot-credentials "last: $(fused_received)"; fi
n=$(status_count)
if [[ $n == 0 ]]; then e2e_pass status-counts-none; else e2e_fail status-counts-none "snaphost status: $n"; fi
START=$(now_iso)
if out=$(read_chunk 32); then
  e2e_fail read-after-remove-refused "a read of an unfetched chunk succeeded after the credentials were forgotten"
else
  e2e_pass read-after-remove-refused
fi
anonymous=$(auth_log_since "$START" 'select(.event == "token" and .status == 401 and .authorization == "none")' | grep -c .)
served=$(auth_log_since "$START" "select(.event == \"request\" and (.path | endswith(\"$BIG_LAYER\")) and (.status == 200 or .status == 206))" | grep -c .)
if ((anonymous >= 1 && served == 0)); then
  e2e_pass read-after-remove-anonymous
else
  e2e_fail read-after-remove-anonymous "$anonymous anonymous token requests, $served range reads served"
fi

# ---- no secret in any log -------------------------------------------------------------------------
E2E_CURRENT=logs
leaks=
for secret in "$PASSWORD_1" "$PASSWORD_2" "$(printf '%s:%s' "$USER_NAME" "$PASSWORD_1" | base64 -w0)" "$(printf '%s:%s' "$USER_NAME" "$PASSWORD_2" | base64 -w0)"; do
  for f in "$SNAPHOST_LOG" "$ROOT/fused.log"; do grep -qF -- "$secret" "$f" && leaks+="$f "; done
done
if [[ -z $leaks ]]; then e2e_pass no-secret-logged; else e2e_fail no-secret-logged "a credential is in: $leaks"; fi

# ---- shutdown: nothing left behind -----------------------------------------------------------------
E2E_CURRENT=shutdown
ctr_ task kill -s KILL "$CTR_ID" >/dev/null 2>&1
for ((i = 0; i < 50; i++)); do ctr_ task ls -q 2>/dev/null | grep -qx "$CTR_ID" || break; ctr_ task rm -f "$CTR_ID" >/dev/null 2>&1; sleep 0.2; done
ctr_ containers rm "$CTR_ID" >/dev/null 2>&1 || e2e_fail container-rm "ctr containers rm $CTR_ID failed"
containerd_stop
snaphost_terminate 20
check_sigterm_exit
[[ ! -e $CRI_SOCK ]] && e2e_pass cri-proxy-socket-removed || e2e_fail cri-proxy-socket-removed "$CRI_SOCK is left"
fused_stop "$ROOT"
check_no_leftovers "$ROOT"

e2e_finish
