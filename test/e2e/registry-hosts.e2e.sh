#!/usr/bin/env bash
# One registry configuration: mirrors defined ONLY in containerd's registry hosts directory (CRI's
# `config_path`) serve stargz-lazy's lazy reads too, and a changed mirror reaches the RUNNING
# FUSE-serving process with no remount. A private containerd (1.6 by default, 2.x with
# E2E_CONTAINERD=2) with CRI (`snapshotter = stargz-lazy`, config_path = a temp hosts dir) and
# `snaphost serve` whose stargz-lazy has `registry.hostsDirs: [that dir]` and NO `registry.hosts`.
# The image is named by a host that does not resolve (mirror-only.invalid/...), served only by the
# mirror its hosts.toml lists: the private registry behind the byte-counting proxy (lib/proxy.sh).
#   - CRI PullImage (lib/cri-client.mjs, kubelet's role) through stargz-lazy is lazy (registry
#     bytes < 10 % of the layers, layers are remote snapshots) and a container reads files right;
#   - the hosts.toml is changed to a second proxy and the first one stopped: the FUSE-serving
#     process re-reads the directory by itself (stat polling), and an ExecSync reading a file not
#     fetched yet gets it through the second proxy, from the same process, with the same mounts;
#   - `snaphost reload` of a changed stargz-lazy option (cache size) is taken by the running
#     process (`POST /v1/config`): same process, same mounts, status's configDigest follows, reads
#     still work;
#   - teardown: nothing mounted and no snapshot left.
#   bash test/e2e/registry-hosts.e2e.sh           (root; needs `npm run build`)
#   E2E_CONTAINERD=2 bash test/e2e/registry-hosts.e2e.sh
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/proxy.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/cri-config.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/multilayer-image.sh"
. "$E2E_LIB/estargz-images.sh"
. "$E2E_LIB/tree-manifest.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/left-behind.sh"

CTR_NAMESPACE=k8s.io
E2E_CONTAINERD_CRI=1
MAJOR=$(containerd_major)
SN=stargz-lazy
MIRRORED=mirror-only.invalid

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node openssl flock tar fusermount stat
e2e_init "registry-hosts-$MAJOR"
W=$E2E_WORK
SOCK=$W/sockets/$SN.sock
SGZ_ROOT=$W/state/$SN
CERTS=$W/certs.d

cri() { timeout 150 node "$E2E_LIB/cri-client.mjs" "$CONTAINERD_ADDRESS" "$@"; }

registry_start
proxy_start
probe_build

# ---- a second counting proxy: the mirror the hosts.toml is changed to ------------------------------
PROXY2=
PROXY2_PID=
proxy2_start() {
  local dir=$W/proxy2 i
  mkdir -p "$dir"
  node "$E2E_LIB/proxy/counting-proxy.mjs" --upstream "$REGISTRY" --port-file "$dir/port" --log "$dir/requests.jsonl" >"$dir/proxy.log" 2>&1 </dev/null &
  PROXY2_PID=$!
  e2e_on_exit proxy2_stop
  e2e_add_log proxy2 "$dir/proxy.log"
  for ((i = 0; i < 100; i++)); do
    if [[ -s $dir/port ]] && curl -fsS "http://127.0.0.1:$(cat "$dir/port")/v2/" >/dev/null 2>&1; then
      PROXY2=127.0.0.1:$(cat "$dir/port")
      e2e_log "second registry proxy on http://$PROXY2 (pid $PROXY2_PID)"
      return 0
    fi
    sleep 0.1
  done
  e2e_die "the second registry proxy did not answer within 10 s"
}
proxy2_stop() { [[ -n $PROXY2_PID ]] && e2e_stop_pid "$PROXY2_PID" 5; PROXY2_PID=; }
proxy2_blob_bytes() { curl -fsS "http://$PROXY2/_proxy/stats" | jq -r --arg d "$1" '.blobs[$d].bytes // 0'; }
proxy2_start

# ---- the sandbox (pause) image: busybox-static, built offline -----------------------------------
E2E_CURRENT=pause-image
pause_build_layout() {
  local dir=$1 oci=$1/oci
  image_busybox_rootfs "$dir/rootfs" || return 1
  umoci init --layout "$oci" &&
    umoci new --image "$oci:pause" &&
    umoci insert --image "$oci:pause" --history.created_by "busybox-static rootfs" "$dir/rootfs" / &&
    umoci config --image "$oci:pause" --no-history --config.workingdir / \
      --config.entrypoint /bin/sh --config.entrypoint -c --config.entrypoint "trap 'exit 0' TERM INT; while :; do sleep 1; done" &&
    umoci gc --layout "$oci"
}
image_cached_oci cri-pause 1 pause_build_layout
PAUSE=$REGISTRY/snaphost-e2e/pause:1
skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$IMAGE_CACHED_OCI:pause" "docker://$PAUSE" >"$W/pause-push.log" 2>&1 ||
  e2e_die "skopeo copy to $PAUSE failed: $(tail -n 3 "$W/pause-push.log" | tr '\n' ' ')"

# ---- the hosts directory: the ONLY place the mirror is defined ------------------------------------
# mirror_to HOST:PORT: mirror-only.invalid's hosts.toml names that mirror (written whole, renamed in).
mirror_to() {
  mkdir -p "$CERTS/$MIRRORED"
  printf '# %s is served by its mirror only\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "$MIRRORED" "$1" >"$CERTS/$MIRRORED/hosts.toml.new"
  mv "$CERTS/$MIRRORED/hosts.toml.new" "$CERTS/$MIRRORED/hosts.toml"
}
mkdir -p "$CERTS/$REGISTRY"
printf 'server = "http://%s"\n' "$REGISTRY" >"$CERTS/$REGISTRY/hosts.toml"
mirror_to "$PROXY"

# ---- snaphost: stargz-lazy reads the same hosts directory, no registry.hosts ----------------------
E2E_CURRENT=serve
sgz_config() { # MEMORY_BYTES
  snaphost_user_config <<EOF
    { use: 'stargz-lazy', options: { prefetch: { enabled: false }, backgroundFetch: { enabled: false },
      cache: { memoryBytes: $1 }, registry: { hostsDirs: ['$CERTS'] } } },
EOF
}
sgz_config 67108864
grep -q "hosts:" "$CONFIG" && e2e_die "the config must not have registry.hosts"
e2e_check check-config snaphost_cli check --config "$CONFIG"
PROXY_TOML=$W/proxy-plugins.toml
snaphost_cli containerd-config --config "$CONFIG" --containerd "$MAJOR" --fragment >"$PROXY_TOML" 2>"$W/containerd-config.err" ||
  e2e_die "snaphost containerd-config failed: $(tail -n 3 "$W/containerd-config.err" | tr '\n' ' ')"
e2e_on_exit fused_stop "$SGZ_ROOT"
snaphost_start "$CONFIG"
e2e_add_log fused "$SGZ_ROOT/fused.log"
snaphost_wait_serving "$SOCK" || e2e_die "snaphost does not serve $SN"
e2e_pass serving

# ---- containerd with CRI: snapshotter stargz-lazy, config_path = the same hosts directory ---------
cri_config_toml "$SN" "$CERTS" "$PAUSE" >"$W/cri.toml"
E2E_CURRENT=images
containerd_start "$PROXY_TOML" "$W/cri.toml"
ctr_wait_snapshotter "$SN" 20 || e2e_die "containerd cannot reach $SN"
esgz_push "$PROBE_OCI" "$PROBE_TAG" snaphost-e2e/probe
mapfile -t LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/probe:esgz")
mapfile -t CHAIN < <(esgz_chain_ids "$REGISTRY/snaphost-e2e/probe:esgz")
[[ ${#LAYERS[@]} == 2 ]] || e2e_die "probe: expected 2 layers, got ${#LAYERS[@]}"
VICTIM_SUM=$(probe_victim_bytes | sha256sum | cut -d' ' -f1)
IMAGE=$MIRRORED/snaphost-e2e/probe:esgz
getent hosts "$MIRRORED" >/dev/null 2>&1 && e2e_die "$MIRRORED resolves on this machine: the test needs a host that does not"
layer_bytes() { # LAYER_LINES...: "SENT SIZE" through the first proxy since its last reset
  local l d s sent=0 size=0
  for l in "$@"; do
    read -r d s _ <<<"$l"
    sent=$((sent + $(proxy_blob_bytes "$d")))
    size=$((size + s))
  done
  echo "$sent $size"
}

# ---- CRI PullImage of the mirror-only image: lazy ----------------------------------------------------
E2E_CURRENT=pull
proxy_reset
out=$(cri PullImage "{\"image\":{\"image\":\"$IMAGE\"}}" 2>&1) || e2e_die "PullImage $IMAGE failed: $out"
e2e_pass pull
read -r sent size <<<"$(layer_bytes "${LAYERS[@]}")"
e2e_log "PullImage of $IMAGE: the mirror sent $sent bytes of the layers' $size"
if ((sent * 10 < size)); then e2e_pass pull-lazy; else e2e_fail pull-lazy "the mirror sent $sent of $size bytes (>= 10 %)"; fi
layer_kinds() {
  local id info
  for id in "${CHAIN[@]}"; do
    info=$(ctr_ snapshots --snapshotter "$SN" info "$id" 2>"$W/ctr-info.err") || { echo "info $id: $(cat "$W/ctr-info.err")"; return 1; }
    jq -e '(.Kind | ascii_downcase) == "committed" and ((.Labels["containerd.io/snapshot/remote"] // "") != "")' <<<"$info" >/dev/null ||
      { echo "$id: $(tr -d '\n ' <<<"$info" | head -c 300)"; return 1; }
  done
}
e2e_check layers-remote-snapshots layer_kinds
if grep -q 'ENOTFOUND' "$SGZ_ROOT/fused.log"; then e2e_fail no-enotfound "$(grep -m 2 ENOTFOUND "$SGZ_ROOT/fused.log")"; else e2e_pass no-enotfound; fi

# ---- a pod and a long-running container: files read right ------------------------------------------
E2E_CURRENT=container
mkdir -p "$W/pods"
SANDBOX=$(jq -nc --arg logs "$W/pods" '{
  metadata: { name: "registry-hosts-e2e", uid: "uid-registry-hosts", namespace: "snaphost-e2e", attempt: 0 },
  log_directory: $logs,
  linux: { security_context: { namespace_options: { network: "NODE", pid: "CONTAINER", ipc: "POD" } } } }')
out=$(cri RunPodSandbox "$(jq -nc --argjson c "$SANDBOX" '{ config: $c }')" 2>&1) && POD=$(jq -er .pod_sandbox_id <<<"$out") ||
  e2e_die "RunPodSandbox failed: $out"
req=$(jq -nc --arg pod "$POD" --arg image "$IMAGE" --argjson sb "$SANDBOX" '{
  pod_sandbox_id: $pod, sandbox_config: $sb,
  config: { metadata: { name: "worker" }, image: { image: $image }, command: ["/bin/sh", "-c", "while :; do sleep 1; done"], log_path: "worker.log",
    linux: { security_context: { namespace_options: { network: "NODE", pid: "CONTAINER", ipc: "POD" } } } } }')
out=$(cri CreateContainer "$req" 2>&1) && CID=$(jq -er .container_id <<<"$out") && out=$(cri StartContainer "{\"container_id\":\"$CID\"}" 2>&1) ||
  e2e_die "worker container: $out"
exec_sh() { cri ExecSync "$(jq -nc --arg c "$CID" --arg s "$1" '{container_id: $c, cmd: ["/bin/sh", "-c", $s], timeout: 120}')"; }
out=$(exec_sh 'cat /data/bystander.txt; cat /data/small/s07.txt' 2>&1)
if [[ $(jq -r .exit_code <<<"$out") == 0 && $(jq -r .stdout <<<"$out") == "$PROBE_BYSTANDER_TEXT"$'\n'"small file 07"* ]]; then
  e2e_pass container-reads
else
  e2e_fail container-reads "$(head -c 300 <<<"$out")"
fi

fused_state() { # "PID MOUNTS": the FUSE-serving process and its FUSE mounts
  echo "$(fused_pids "$SGZ_ROOT" | tr '\n' ' ')/$(fuse_mounts_below "$SGZ_ROOT" | sort | tr '\n' ' ')"
}
STATE_BEFORE=$(fused_state)
[[ $STATE_BEFORE == [0-9]*/*[a-z]* ]] || e2e_die "no FUSE-serving process or no FUSE mount: $STATE_BEFORE"
# ---- the mirror changes in the hosts directory: the running process follows --------------------------
E2E_CURRENT=mirror-change
replaced_count() { grep -c 'registry client replaced' "$SGZ_ROOT/fused.log" || true; }
R0=$(replaced_count)
mirror_to "$PROXY2"
proxy_stop # the first mirror is gone: a read sent there would fail
replaced() { (($(replaced_count) > R0)) || { echo "fused.log has no new 'registry client replaced'"; return 1; }; }
if e2e_wait 15 replaced; then e2e_pass hosts-dir-re-read; else e2e_fail hosts-dir-re-read "$(replaced)"; fi
out=$(exec_sh 'sha256sum </data/victim.bin' 2>&1)
if [[ $(jq -r .exit_code <<<"$out") == 0 && $(jq -r .stdout <<<"$out") == "$VICTIM_SUM  -"* ]]; then
  e2e_pass new-mirror-reads
else
  e2e_fail new-mirror-reads "$(head -c 300 <<<"$out")"
fi
read -r data_digest _ <<<"${LAYERS[1]}"
got=$(proxy2_blob_bytes "$data_digest")
e2e_log "after the change, the second mirror sent $got bytes of the data layer for a $PROBE_VICTIM_SIZE-byte file"
if ((got >= PROBE_VICTIM_SIZE / 2)); then e2e_pass new-mirror-served-lazy-reads; else e2e_fail new-mirror-served-lazy-reads "the second mirror sent only $got bytes"; fi
if [[ $(fused_state) == "$STATE_BEFORE" ]]; then e2e_pass mirror-change-same-process-same-mounts; else e2e_fail mirror-change-same-process-same-mounts "before: $STATE_BEFORE; now: $(fused_state)"; fi

# ---- snaphost reload with a changed stargz-lazy option: taken live -----------------------------------
E2E_CURRENT=reload
status_digest() { curl -fsS --unix-socket "$SGZ_ROOT/fused.sock" http://fused/v1/status | jq -r .configDigest; }
D0=$(status_digest)
A0=$(grep -c 'new configuration applied' "$SGZ_ROOT/fused.log" || true)
sgz_config 33554432
if out=$(snaphost_cli reload --config "$CONFIG" 2>&1); then e2e_pass reload; else e2e_fail reload "$out"; fi
applied() { (($(grep -c 'new configuration applied' "$SGZ_ROOT/fused.log" || true) > A0)) || { echo "fused.log has no new 'new configuration applied'"; return 1; }; }
if e2e_wait 20 applied; then e2e_pass reload-applied-live; else e2e_fail reload-applied-live "$(applied); $(tail -n 5 "$SNAPHOST_LOG" | tr '\n' ' ')"; fi
D1=$(status_digest)
if [[ -n $D1 && $D1 != "$D0" ]]; then e2e_pass reload-config-digest-follows; else e2e_fail reload-config-digest-follows "configDigest $D0 -> $D1"; fi
if [[ $(fused_state) == "$STATE_BEFORE" ]]; then e2e_pass reload-same-process-same-mounts; else e2e_fail reload-same-process-same-mounts "before: $STATE_BEFORE; now: $(fused_state)"; fi
out=$(exec_sh 'cat /data/small/s03.txt; sha256sum </data/victim.bin' 2>&1)
if [[ $(jq -r .exit_code <<<"$out") == 0 && $(jq -r .stdout <<<"$out") == "small file 03"*"$VICTIM_SUM  -"* ]]; then
  e2e_pass reads-after-reload
else
  e2e_fail reads-after-reload "$(head -c 300 <<<"$out")"
fi

# ---- teardown -------------------------------------------------------------------------------------
E2E_CURRENT=teardown
cri StopContainer "{\"container_id\":\"$CID\",\"timeout\":0}" >/dev/null 2>&1 || e2e_fail stop-container "StopContainer failed"
cri RemoveContainer "{\"container_id\":\"$CID\"}" >/dev/null 2>&1 || e2e_fail remove-container "RemoveContainer failed"
{ cri StopPodSandbox "{\"pod_sandbox_id\":\"$POD\"}" && cri RemovePodSandbox "{\"pod_sandbox_id\":\"$POD\"}"; } >/dev/null 2>&1 || e2e_fail remove-sandbox "failed"
for img in "$IMAGE" "$PAUSE"; do
  out=$(cri RemoveImage "{\"image\":{\"image\":\"$img\"}}" 2>&1) || e2e_fail remove-image "$img: $out"
done
nothing_left() {
  local c l
  c=$(ctr_ snapshots --snapshotter "$SN" ls 2>/dev/null | tail -n +2 | grep -c .) || true
  l=$(snaphost_list "$SOCK" | grep -c .) || true
  [[ $c == 0 && $l == 0 ]] || { echo "containerd lists $c snapshots, the backend $l"; return 1; }
}
if e2e_wait 30 nothing_left; then e2e_pass no-snapshot-left; else e2e_fail no-snapshot-left "$(nothing_left)"; fi
containerd_stop
snaphost_terminate 20
check_sigterm_exit
fused_stop "$SGZ_ROOT"
mounts=$(e2e_mounts_below "$W" | tr '\n' ' ')
if [[ -z $mounts ]]; then e2e_pass no-mounts-left; else e2e_fail no-mounts-left "$mounts"; fi

e2e_finish
