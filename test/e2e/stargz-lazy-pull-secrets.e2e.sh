#!/usr/bin/env bash
# End to end for Kubernetes pull secrets in lazy pulling (issue 15, "Private images under
# Kubernetes"): the registry sits behind lib/token-auth-proxy.mjs (Bearer tokens only for the
# right Basic credentials). snaphost has NO docker config (DOCKER_CONFIG is an empty directory):
# the only credentials the FUSE-serving process can have are those of a
# `kubernetes.io/dockerconfigjson` secret mounted the way kubelet mounts a secret volume
# (`..<timestamp>/.dockerconfigjson`, `..data` -> it, `.dockerconfigjson` -> `..data/...`), named
# by `registry.pullSecrets`, read by the daemon and pushed to the process (POST /v1/credentials).
# A second path names a broken secret. containerd gets the credentials from `rpull --user`.
# Checks:
#   - `snaphost check` names the broken secret (a warning) and not the good one;
#   - the daemon read the secret volume, and logged the broken file at error level;
#   - the FUSE process received the pull secret (one registry) and found no docker config;
#   - rpull mounts every layer lazily; `ctr run` reads /data/big.bin with the right checksum;
#     every token the proxy issued was asked for with the right credentials (none refused) and
#     the FUSE process looked its credentials up in the pushed pull secret;
#   - the secret is updated (a `..data` swap to a new file with the same credentials plus
#     another registry): the daemon reads it again and pushes it (two registries);
#   - no log line (daemon, FUSE process) holds the password or its base64;
#   - shutdown: no process and no mount is left.
# The CRI path (credentials from PullImage) is test/e2e/cri-credentials.e2e.sh.
#   bash test/e2e/stargz-lazy-pull-secrets.e2e.sh        (root; needs `npm run build`)
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
CTR_NAMESPACE=snaphost-e2e-pull-secrets
USER_NAME=e2e-pull
PASSWORD='pull-secret pass:9d3f'
TOKEN_TTL=30

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node openssl flock fusermount base64
e2e_init stargz-lazy-pull-secrets
W=$E2E_WORK
sock() { echo "$W/sockets/$1.sock"; }
ROOT=$W/state/$SN

registry_start
auth_proxy_start "$USER_NAME" "$PASSWORD" "$TOKEN_TTL" 0
bigfile_build
AUTH_B64=$(printf '%s:%s' "$USER_NAME" "$PASSWORD" | base64 -w0)

# ---- the pull secret, as kubelet mounts a secret volume ---------------------------------------------
SECRET_DIR=$W/secrets/regcred
GENERATION=0
secret_volume_write() { # JSON: a new timestamped dir, then ..data swapped to it atomically
  GENERATION=$((GENERATION + 1))
  local ts="..2026_12_05_00_00_0${GENERATION}.000000000"
  mkdir -p "$SECRET_DIR/$ts"
  printf '%s' "$1" >"$SECRET_DIR/$ts/.dockerconfigjson"
  ln -sfn "$ts" "$SECRET_DIR/..data_tmp" && mv -T "$SECRET_DIR/..data_tmp" "$SECRET_DIR/..data"
  [[ -L $SECRET_DIR/.dockerconfigjson ]] || ln -s ..data/.dockerconfigjson "$SECRET_DIR/.dockerconfigjson"
}
mkdir -p "$SECRET_DIR"
secret_volume_write "$(jq -n --arg host "$AUTH_PROXY" --arg auth "$AUTH_B64" '{auths: {($host): {auth: $auth}}}')"
BROKEN=$W/secrets/broken.dockerconfigjson
printf '{"auths": {"x": {"password": %s' "$PASSWORD" >"$BROKEN"
mkdir -p "$W/docker-empty"
export DOCKER_CONFIG=$W/docker-empty

snaphost_user_config <<EOF
    {
      use: '$SN',
      options: {
        registry: { pullSecrets: ['$SECRET_DIR', '$BROKEN'] },
        prefetch: { enabled: false },
        backgroundFetch: { enabled: false },
      },
    },
EOF
E2E_CURRENT=check
check_out=$(snaphost_cli check --config "$CONFIG" --no-create 2>&1)
if grep -F 'warning' <<<"$check_out" | grep -F "pull secret $BROKEN is not JSON" >/dev/null &&
  ! grep -F "$SECRET_DIR" <<<"$check_out" >/dev/null; then
  e2e_pass check-names-broken-secret
else
  e2e_fail check-names-broken-secret "snaphost check: $(tr '\n' '|' <<<"$check_out")"
fi
E2E_CURRENT=containerd-config
snaphost_proxy_toml

E2E_CURRENT=serve
e2e_on_exit fused_stop "$ROOT"
snaphost_start "$CONFIG"
e2e_add_log fused "$ROOT/fused.log"
snaphost_wait_serving "$(sock "$SN")" || e2e_die "snaphost does not serve $(sock "$SN")"
containerd_start "$PROXY_TOML"
ctr_wait_snapshotter "$SN" 20 || e2e_die "containerd cannot reach $SN"

daemon_read() { grep -F '"pull secrets read"' "$SNAPHOST_LOG" | grep -F "\"file\":\"$SECRET_DIR/.dockerconfigjson\",\"registries\":1" >/dev/null; }
if e2e_wait 5 daemon_read; then e2e_pass daemon-read-secret-volume; else e2e_fail daemon-read-secret-volume "no 'pull secrets read' line with $SECRET_DIR/.dockerconfigjson in $SNAPHOST_LOG"; fi
broken_logged() { grep -F '"level":"error"' "$SNAPHOST_LOG" | grep -F "pull secret $BROKEN is not JSON" >/dev/null || grep -F '"level":50' "$SNAPHOST_LOG" | grep -F "pull secret $BROKEN is not JSON" >/dev/null; }
if broken_logged; then e2e_pass daemon-logged-broken-secret; else e2e_fail daemon-logged-broken-secret "no error line naming $BROKEN in $SNAPHOST_LOG"; fi
pushed() { grep -F 'registry credentials received from snaphost' "$ROOT/fused.log" | grep -F "\"pull-secrets\":$1" >/dev/null; }
if e2e_wait 10 pushed 1; then e2e_pass fused-received-pull-secret; else e2e_fail fused-received-pull-secret "no 'registry credentials received from snaphost' with pull-secrets 1 in $ROOT/fused.log"; fi

E2E_CURRENT=images
esgz_push "$BIGFILE_OCI" "$BIGFILE_TAG" snaphost-e2e/bigfile
IMG=$AUTH_PROXY/snaphost-e2e/bigfile:esgz
WANT_SUM=$(bigfile_bytes | sha256sum | cut -d' ' -f1)

# ---- lazy pull and read with the pull secret's credentials only ------------------------------------
E2E_CURRENT=rpull
START=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
if out=$(timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http \
  --user "$USER_NAME:$PASSWORD" --snapshotter "$SN" "$IMG" 2>&1); then
  e2e_pass rpull-through-token-auth
else
  e2e_die "rpull $IMG failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
fi
fuse_count() { local n; n=$(fuse_mounts_below "$ROOT" | grep -c .); [[ $n == "$1" ]] || { echo "$n FUSE mounts below $ROOT, expected $1"; return 1; }; }
e2e_check lazy-mounts-per-layer fuse_count 2

E2E_CURRENT=read
got=$(timeout 300 ctr --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" run --rm --snapshotter "$SN" "$IMG" "pull-secret-read-$$" \
  /bin/sh -c 'sha256sum </data/big.bin' 2>&1)
if [[ $got == "$WANT_SUM  -" ]]; then e2e_pass read-checksum; else e2e_fail read-checksum "expected $WANT_SUM, got: $(tail -n 3 <<<"$got" | tr '\n' '|')"; fi
refused=$(auth_log_since "$START" 'select(.event == "token" and .status != 200)' | grep -c .)
issued=$(auth_log_since "$START" 'select(.event == "token" and .status == 200)' | grep -c .)
if [[ $refused == 0 && $issued -ge 1 ]]; then e2e_pass tokens-for-the-right-credentials; else e2e_fail tokens-for-the-right-credentials "$issued tokens issued, $refused refused"; fi
from_secret() { grep -F 'registry credentials pushed by snaphost' "$ROOT/fused.log" | grep -F '"source":"pull-secrets"' | grep -F "\"host\":\"$AUTH_PROXY\"" >/dev/null; }
if from_secret; then e2e_pass fused-used-pull-secret; else e2e_fail fused-used-pull-secret "no lookup from the pull secrets for $AUTH_PROXY in $ROOT/fused.log"; fi
no_config() { grep -F 'registry credentials: docker config' "$ROOT/fused.log" | grep -F '"found":false' >/dev/null; }
if no_config; then e2e_pass fused-had-no-docker-config; else e2e_fail fused-had-no-docker-config "the FUSE process found a docker config: the test proves little"; fi

# ---- the secret is updated (kubelet's ..data swap): read again and pushed ---------------------------
E2E_CURRENT=update
secret_volume_write "$(jq -n --arg host "$AUTH_PROXY" --arg auth "$AUTH_B64" '{auths: {($host): {auth: $auth}, "other.example": {auth: $auth}}}')"
# The daemon polls every 10 s.
if e2e_wait 30 pushed 2; then e2e_pass update-pushed; else e2e_fail update-pushed "the updated secret (2 registries) did not reach the FUSE process within 30 s"; fi

E2E_CURRENT=secrets
leaks=$(cat "$SNAPHOST_LOG" "$ROOT/fused.log" | grep -cF -e "$PASSWORD" -e "$AUTH_B64")
if [[ $leaks == 0 ]]; then e2e_pass no-secret-logged; else e2e_fail no-secret-logged "$leaks log lines hold the password or its base64"; fi

# ---- shutdown: nothing left behind ---------------------------------------------------------------
E2E_CURRENT=shutdown
ctr_ images rm --sync "$IMG" >/dev/null 2>&1 || e2e_fail image-rm "ctr images rm --sync $IMG failed"
containerd_stop
snaphost_terminate 20
check_sigterm_exit
fused_stop "$ROOT"
check_no_leftovers "$ROOT"

e2e_finish
