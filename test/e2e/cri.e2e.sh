#!/usr/bin/env bash
# End to end through Kubernetes' CRI path: what kubelet does, done by a small CRI client
# (lib/cri-client.mjs, grpc-js with proto/k8s.io/cri-api/.../api.proto) against the CRI plugin of
# a private containerd (1.6 by default, 2.x with E2E_CONTAINERD=2), whose snapshotter is each of
# snaphost's backends in turn (one `snaphost serve` hosts memory, overlayfs-native, stargz-lazy;
# containerd is restarted with CRI `snapshotter = NAME` for each). No CNI: host-network pods.
# Images come from the private plain-HTTP registry (a `config_path` hosts dir), stargz-lazy's
# through the byte-counting proxy: probe:esgz (lib/estargz-images.sh) for stargz-lazy, probe:gzip
# for the others; the sandbox (pause) image is busybox-static built offline. Per backend:
#   - PullImage: through stargz-lazy lazy (registry bytes < 10 % of the layers) and every layer
#     a committed remote snapshot; through memory / overlayfs-native a normal pull (every layer
#     downloaded whole, ordinary snapshots);
#   - ImageFsInfo answers, and the directory it names (what kubelet's cadvisor stats) exists and
#     sits on the backend root's file system (snaphost's `containerdRoot` setting);
#   - RunPodSandbox (host network), CreateContainer + StartContainer of a one-shot container:
#     its output in the log file and its exit code; a long-running container: ExecSync reads
#     /data/victim.bin (12 MiB, not fetched yet under stargz-lazy: the registry sends it then);
#   - stop and remove container, sandbox, image (+ pause image), containerd's GC: no snapshot left.
# And on the running containerd: `snaphost check-containerd` finds no error and reports which
# backend CRI uses and that lazy pulling is on. Last, stargz-lazy with CRI's
# disable_snapshot_annotations left at its default (true): on 1.x the pull is silently a full one
# (and check-containerd says cri-snapshot-annotations-off); on 2.1+ CRI pulls through the transfer
# service, lazily (exports.enable_remote_snapshot_annotations + unpack_config).
#   bash test/e2e/cri.e2e.sh                 (root; needs `npm run build`)
#   E2E_CONTAINERD=2 bash test/e2e/cri.e2e.sh
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

BACKENDS=(stargz-lazy overlayfs-native memory)
# CRI keeps everything of Kubernetes in the containerd namespace k8s.io.
CTR_NAMESPACE=k8s.io
E2E_CONTAINERD_CRI=1
MAJOR=$(containerd_major)

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node openssl flock tar fusermount stat
e2e_init "cri-$MAJOR"
W=$E2E_WORK
sock() { echo "$W/sockets/$1.sock"; }
SGZ_ROOT=$W/state/stargz-lazy
CONTAINERD_ROOT_DIR=$W/containerd/root

cri() { timeout 150 node "$E2E_LIB/cri-client.mjs" "$CONTAINERD_ADDRESS" "$@"; }

registry_start
proxy_start
probe_build

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

# ---- snaphost ---------------------------------------------------------------------------------
E2E_CURRENT=serve
# Prefetch and background fetch off: what a pull downloads is then only what mounting needs.
# containerdRoot: snaphost keeps <containerd root>/io.containerd.snapshotter.v1.<name> (what CRI's
# ImageFsInfo names on containerd 1.6) as a link to each backend's root.
snaphost_user_config <<EOF
    { use: 'stargz-lazy', options: { prefetch: { enabled: false }, backgroundFetch: { enabled: false } } },
    { use: 'overlayfs-native', options: {} },
    { use: 'memory', options: {} },
EOF
sed -i "s|^  rootDir: .*|&\\n  containerdRoot: '$CONTAINERD_ROOT_DIR',|" "$CONFIG"
grep -q containerdRoot "$CONFIG" || e2e_die "could not add containerdRoot to $CONFIG"
e2e_check check-config snaphost_cli check --config "$CONFIG"
PROXY_TOML=$W/proxy-plugins.toml
snaphost_cli containerd-config --config "$CONFIG" --containerd "$MAJOR" --fragment >"$PROXY_TOML" 2>"$W/containerd-config.err" ||
  e2e_die "snaphost containerd-config failed: $(tail -n 3 "$W/containerd-config.err" | tr '\n' ' ')"
e2e_on_exit fused_stop "$SGZ_ROOT"
snaphost_start "$CONFIG"
e2e_add_log fused "$SGZ_ROOT/fused.log"
snaphost_wait_serving "$(sock stargz-lazy)" "$(sock overlayfs-native)" "$(sock memory)" || e2e_die "snaphost does not serve every backend"
e2e_pass serving

# ---- the CRI configuration --------------------------------------------------------------------
# Plain HTTP registries: a hosts dir per registry (config_path), read by 1.6 and 2.x alike.
CERTS=$W/certs.d
for r in "$REGISTRY" "$PROXY"; do
  mkdir -p "$CERTS/$r"
  printf 'server = "http://%s"\n\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "$r" "$r" >"$CERTS/$r/hosts.toml"
done
# cri_toml SNAPSHOTTER [default]: the CRI tables of this containerd line (lib/cri-config.sh),
# with this test's hosts directory and sandbox image.
cri_toml() { cri_config_toml "$1" "$CERTS" "$PAUSE" "${2:-}"; }

# The images: pushed once (the eStargz conversion needs a containerd: the first one we start).
E2E_CURRENT=images
cri_toml stargz-lazy >"$W/cri-stargz-lazy.toml"
containerd_start "$PROXY_TOML" "$W/cri-stargz-lazy.toml"
esgz_push "$PROBE_OCI" "$PROBE_TAG" snaphost-e2e/probe
mapfile -t ESGZ_LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/probe:esgz")
mapfile -t ESGZ_CHAIN < <(esgz_chain_ids "$REGISTRY/snaphost-e2e/probe:esgz")
mapfile -t GZ_LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/probe:gzip")
mapfile -t GZ_CHAIN < <(esgz_chain_ids "$REGISTRY/snaphost-e2e/probe:gzip")
[[ ${#ESGZ_LAYERS[@]} == 2 && ${#GZ_LAYERS[@]} == 2 ]] || e2e_die "probe: expected 2 layers, got ${#ESGZ_LAYERS[@]} / ${#GZ_LAYERS[@]}"
VICTIM_SUM=$(probe_victim_bytes | sha256sum | cut -d' ' -f1)

# ---- one round per backend ----------------------------------------------------------------------
layer_bytes() { # LAYER_LINES...: "SENT SIZE" of those layers through the proxy since the last reset
  local l d s sent=0 size=0
  for l in "$@"; do
    read -r d s _ <<<"$l"
    sent=$((sent + $(proxy_blob_bytes "$d")))
    size=$((size + s))
  done
  echo "$sent $size"
}

snapshots_of() { ctr_ snapshots --snapshotter "$1" ls 2>/dev/null | tail -n +2 | grep -c . || true; }

# wait_exited CONTAINER_ID: until ContainerStatus says CONTAINER_EXITED (30 s); prints the status.
wait_exited() {
  local i st
  for ((i = 0; i < 150; i++)); do
    st=$(cri ContainerStatus "{\"container_id\":\"$1\"}" 2>&1) || { echo "$st"; return 1; }
    [[ $(jq -r '.status.state' <<<"$st") == CONTAINER_EXITED ]] && { echo "$st"; return 0; }
    sleep 0.2
  done
  echo "$st"
  return 1
}

# cri_round BACKEND: containerd restarted with CRI's snapshotter = BACKEND, then every check.
cri_round() {
  local sn=$1 image layers chain sent size out id st pod c1 c2 fsinfo mp dev_mp dev_root n
  local -a lines
  E2E_CURRENT=$sn
  if [[ $sn == stargz-lazy ]]; then
    image=$PROXY/snaphost-e2e/probe:esgz
    layers=("${ESGZ_LAYERS[@]}")
    chain=("${ESGZ_CHAIN[@]}")
  else
    image=$PROXY/snaphost-e2e/probe:gzip
    layers=("${GZ_LAYERS[@]}")
    chain=("${GZ_CHAIN[@]}")
  fi
  containerd_stop
  cri_toml "$sn" >"$W/cri-$sn.toml"
  containerd_start "$PROXY_TOML" "$W/cri-$sn.toml"
  ctr_wait_snapshotter "$sn" 20 || { e2e_fail "$sn-reachable" "containerd cannot reach $sn"; return; }
  if out=$(cri Version '{"version":"v1"}' 2>&1) && [[ $(jq -r .runtime_api_version <<<"$out") == v1 ]]; then
    e2e_pass "$sn-cri-version"
  else
    e2e_fail "$sn-cri-version" "$out"
    return
  fi

  # The effective CRI config (kept in the work dir: E2E_KEEP_WORK=1 to look at it).
  cri Status '{"verbose":true}' >"$W/cri-status-$sn.json" 2>&1 || e2e_fail "$sn-cri-status" "$(head -c 300 "$W/cri-status-$sn.json")"
  # What `snaphost check-containerd` reports about this containerd: no error, and for CRI which
  # backend it uses and that lazy pulling is on.
  if out=$(snaphost_cli check-containerd --config "$CONFIG" --address "$CONTAINERD_ADDRESS" --json --timeout-ms 30000 2>&1) &&
    jq -e --arg sn "$sn" --arg major "$MAJOR" '(map(select(.backend == $sn and .code == "cri-snapshotter")) | length == 1)
      and (map(select(.severity == "error")) | length == 0)
      and (map(select(.code == "cri-snapshot-annotations-off" or .code == "cri-image-fs-missing")) | length == 0)
      and (map(select(.code == "proxy-plugin-ok")) | length == 3)
      and (if $sn != "stargz-lazy" then true
           elif $major == "1" then map(select(.backend == $sn and .code == "cri-lazy-pull-on")) | length == 1
           else map(select(.backend == $sn and .code == "cri-image-config-unreported")) | length == 1 end)' <<<"$out" >/dev/null; then
    e2e_pass "$sn-cri-findings"
  else
    e2e_fail "$sn-cri-findings" "$(head -c 600 <<<"$out")"
  fi

  # -- PullImage
  proxy_reset
  if out=$(cri PullImage "{\"image\":{\"image\":\"$image\"}}" 2>&1); then
    e2e_pass "$sn-pull"
  else
    e2e_fail "$sn-pull" "$out"
    return
  fi
  read -r sent size <<<"$(layer_bytes "${layers[@]}")"
  e2e_log "$sn: PullImage of $image: the registry sent $sent bytes of the layers' $size"
  if [[ $sn == stargz-lazy ]]; then
    if ((sent * 10 < size)); then e2e_pass "$sn-pull-lazy"; else e2e_fail "$sn-pull-lazy" "the registry sent $sent of $size bytes (>= 10 %)"; fi
  fi
  # A normal pull keeps every layer blob in containerd's content store; a lazy one none of them.
  # (Bytes are no measure here: the pause image's layer is the probe's first one, pulled before.)
  layer_content() {
    local l have want=yes
    [[ $sn == stargz-lazy ]] && want=no
    have=$(ctr_ content ls -q 2>&1) || { echo "$have"; return 1; }
    for l in "${layers[@]}"; do
      if grep -qxF "${l%% *}" <<<"$have"; then
        [[ $want == yes ]] || { echo "layer ${l%% *} is in containerd's content store: not a lazy pull"; return 1; }
      else
        [[ $want == no ]] || { echo "layer ${l%% *} is not in containerd's content store: not a normal pull"; return 1; }
      fi
    done
  }
  if [[ $sn == stargz-lazy ]]; then e2e_check "$sn-pull-no-layer-content" layer_content; else e2e_check "$sn-pull-full" layer_content; fi
  layer_kinds() { # every layer committed; remote (labelled) exactly under stargz-lazy
    local id info want=false
    [[ $sn == stargz-lazy ]] && want=true
    for id in "${chain[@]}"; do
      info=$(ctr_ snapshots --snapshotter "$sn" info "$id" 2>"$W/ctr-info.err") || { echo "info $id: $(cat "$W/ctr-info.err")"; return 1; }
      jq -e --argjson want "$want" '(.Kind | ascii_downcase) == "committed" and (((.Labels["containerd.io/snapshot/remote"] // "") != "") == $want)' <<<"$info" >/dev/null ||
        { echo "$id: $(tr -d '\n ' <<<"$info" | head -c 300)"; return 1; }
    done
  }
  if [[ $sn == stargz-lazy ]]; then e2e_check "$sn-layers-remote-snapshots" layer_kinds; else e2e_check "$sn-layers-ordinary-snapshots" layer_kinds; fi
  if out=$(cri ImageStatus "{\"image\":{\"image\":\"$image\"}}" 2>&1) && [[ -n $(jq -r '.image.id // empty' <<<"$out") ]]; then
    e2e_pass "$sn-image-status"
  else
    e2e_fail "$sn-image-status" "$out"
  fi

  # -- ImageFsInfo: answered, and the directory it names exists on the backend root's file system
  if fsinfo=$(cri ImageFsInfo 2>&1) && mp=$(jq -er '.image_filesystems[0].fs_id.mountpoint' <<<"$fsinfo"); then
    e2e_pass "$sn-image-fs-info"
    e2e_log "$sn: ImageFsInfo names $mp (used $(jq -r '.image_filesystems[0].used_bytes.value' <<<"$fsinfo") bytes)"
    dev_mp=$(stat -L -c %d "$mp" 2>&1)
    dev_root=$(stat -L -c %d "$W/state/$sn" 2>&1)
    if [[ -d $mp && $dev_mp == "$dev_root" ]]; then
      e2e_pass "$sn-image-fs-dir-exists"
    else
      e2e_fail "$sn-image-fs-dir-exists" "$mp: $(ls -ld "$mp" 2>&1); device $dev_mp, backend root's $dev_root"
    fi
  else
    e2e_fail "$sn-image-fs-info" "$fsinfo"
  fi

  # -- a host-network pod
  mkdir -p "$W/pods/$sn"
  local sandbox
  sandbox=$(jq -nc --arg sn "$sn" --arg logs "$W/pods/$sn" '{
    metadata: { name: ("cri-e2e-" + $sn), uid: ("uid-" + $sn), namespace: "snaphost-e2e", attempt: 0 },
    log_directory: $logs,
    linux: { security_context: { namespace_options: { network: "NODE", pid: "CONTAINER", ipc: "POD" } } } }')
  if out=$(cri RunPodSandbox "$(jq -nc --argjson c "$sandbox" '{ config: $c }')" 2>&1) && pod=$(jq -er .pod_sandbox_id <<<"$out"); then
    e2e_pass "$sn-run-pod-sandbox"
  else
    e2e_fail "$sn-run-pod-sandbox" "$out"
    return
  fi
  container_req() { # NAME LOG SCRIPT
    jq -nc --arg pod "$pod" --arg image "$image" --arg name "$1" --arg log "$2" --arg script "$3" --argjson sb "$sandbox" '{
      pod_sandbox_id: $pod, sandbox_config: $sb,
      config: { metadata: { name: $name }, image: { image: $image }, command: ["/bin/sh", "-c", $script], log_path: $log,
        linux: { security_context: { namespace_options: { network: "NODE", pid: "CONTAINER", ipc: "POD" } } } } }'
  }
  # One-shot: output and exit code.
  if out=$(cri CreateContainer "$(container_req oneshot oneshot.log 'cat /data/bystander.txt; echo "small=$(cat /data/small/s07.txt)"; exit 7')" 2>&1) &&
    c1=$(jq -er .container_id <<<"$out") && out=$(cri StartContainer "{\"container_id\":\"$c1\"}" 2>&1); then
    e2e_pass "$sn-create-start-container"
    if st=$(wait_exited "$c1"); then
      if [[ $(jq -r .status.exit_code <<<"$st") == 7 ]]; then e2e_pass "$sn-exit-code"; else e2e_fail "$sn-exit-code" "$(jq -c '.status | {state, exit_code, reason, message}' <<<"$st")"; fi
    else
      e2e_fail "$sn-exit-code" "not exited in 30 s: $(head -c 300 <<<"$st")"
    fi
    # CRI log format: "TIMESTAMP STREAM TAG TEXT" per line.
    out=$(cut -d' ' -f4- "$W/pods/$sn/oneshot.log" 2>&1)
    if [[ $out == "$PROBE_BYSTANDER_TEXT"$'\n'"small=small file 07" ]]; then e2e_pass "$sn-container-log"; else e2e_fail "$sn-container-log" "log: $(head -c 300 <<<"$out" | tr '\n' '|')"; fi
  else
    e2e_fail "$sn-create-start-container" "$out"
  fi
  # Long-running: ExecSync reads a file nothing has read yet.
  if out=$(cri CreateContainer "$(container_req worker worker.log 'echo up; while :; do sleep 1; done')" 2>&1) &&
    c2=$(jq -er .container_id <<<"$out") && out=$(cri StartContainer "{\"container_id\":\"$c2\"}" 2>&1); then
    proxy_reset
    if out=$(cri ExecSync "{\"container_id\":\"$c2\",\"cmd\":[\"/bin/sh\",\"-c\",\"sha256sum </data/victim.bin\"],\"timeout\":120}" 2>&1) &&
      [[ $(jq -r .exit_code <<<"$out") == 0 && $(jq -r .stdout <<<"$out") == "$VICTIM_SUM  -"* ]]; then
      e2e_pass "$sn-exec-sync-reads"
    else
      e2e_fail "$sn-exec-sync-reads" "$(head -c 300 <<<"$out")"
    fi
    if [[ $sn == stargz-lazy ]]; then
      read -r sent size <<<"$(layer_bytes "${layers[1]}")"
      e2e_log "$sn: ExecSync of sha256sum /data/victim.bin: the registry sent $sent bytes of the data layer"
      if ((sent >= PROBE_VICTIM_SIZE / 2)); then e2e_pass "$sn-exec-sync-fetched-lazily"; else e2e_fail "$sn-exec-sync-fetched-lazily" "the registry sent only $sent bytes of the data layer for a 12 MiB file: was it fetched at pull time?"; fi
    fi
    cri StopContainer "{\"container_id\":\"$c2\",\"timeout\":0}" >/dev/null 2>&1 || e2e_fail "$sn-stop-container" "StopContainer $c2 failed"
  else
    e2e_fail "$sn-exec-sync-reads" "worker: $out"
  fi

  # -- stop and remove everything: no snapshot is left
  for id in ${c1:-} ${c2:-}; do
    out=$(cri RemoveContainer "{\"container_id\":\"$id\"}" 2>&1) || e2e_fail "$sn-remove-container" "$out"
  done
  if out=$(cri StopPodSandbox "{\"pod_sandbox_id\":\"$pod\"}" 2>&1) && out=$(cri RemovePodSandbox "{\"pod_sandbox_id\":\"$pod\"}" 2>&1); then
    e2e_pass "$sn-stop-remove-sandbox"
  else
    e2e_fail "$sn-stop-remove-sandbox" "$out"
  fi
  for img in "$image" "$PAUSE"; do
    out=$(cri RemoveImage "{\"image\":{\"image\":\"$img\"}}" 2>&1) || e2e_fail "$sn-remove-image" "$img: $out"
  done
  # CRI's RemoveImage of an image's last name deletes it with a synchronous GC; the sandbox's and
  # containers' snapshots went with RemovePodSandbox / RemoveContainer.
  nothing_left() {
    local c l
    c=$(snapshots_of "$sn")
    l=$(snaphost_list "$(sock "$sn")" | grep -c .) || true
    [[ $c == 0 && $l == 0 ]] || { echo "containerd lists $c snapshots of $sn, the backend $l: $(ctr_ snapshots --snapshotter "$sn" ls 2>&1 | tail -n +2 | tr '\n' ';')"; return 1; }
  }
  if e2e_wait 30 nothing_left; then e2e_pass "$sn-no-snapshot-left"; else e2e_fail "$sn-no-snapshot-left" "$(nothing_left)"; fi
  if [[ $sn == stargz-lazy ]]; then
    n=$(fuse_mounts_below "$SGZ_ROOT" | grep -c .) || true
    if [[ $n == 0 ]]; then e2e_pass "$sn-no-fuse-mount-left"; else e2e_fail "$sn-no-fuse-mount-left" "$n FUSE mounts below $SGZ_ROOT"; fi
  fi
}

for b in "${BACKENDS[@]}"; do cri_round "$b"; done

# ---- stargz-lazy with disable_snapshot_annotations at its default ----------------------------------
# containerd 1.x: CRI passes no layer annotations, so the pull is silently a full one (and
# check-containerd says so). containerd 2.1+: CRI pulls through the transfer service, lazily, because
# the proxy plugin has exports.enable_remote_snapshot_annotations and an unpack_config entry.
E2E_CURRENT=annotations-default
default_annotations_round() {
  local sn=stargz-lazy image=$PROXY/snaphost-e2e/probe:esgz out sent size want
  containerd_stop
  cri_toml "$sn" default >"$W/cri-$sn-default.toml"
  containerd_start "$PROXY_TOML" "$W/cri-$sn-default.toml"
  ctr_wait_snapshotter "$sn" 20 || { e2e_fail default-annotations-reachable "containerd cannot reach $sn"; return; }
  out=$(snaphost_cli check-containerd --config "$CONFIG" --address "$CONTAINERD_ADDRESS" --json --timeout-ms 30000 2>&1)
  if [[ $MAJOR == 1 ]]; then want=cri-snapshot-annotations-off; else want=cri-image-config-unreported; fi
  if jq -e --arg w "$want" 'any(.[]; .backend == "stargz-lazy" and .code == $w)' <<<"$out" >/dev/null 2>&1; then e2e_pass "default-annotations-finding"; else e2e_fail default-annotations-finding "expected $want: $(head -c 600 <<<"$out")"; fi
  proxy_reset
  if ! out=$(cri PullImage "{\"image\":{\"image\":\"$image\"}}" 2>&1); then
    e2e_fail default-annotations-pull "$out"
    return
  fi
  read -r sent size <<<"$(layer_bytes "${ESGZ_LAYERS[@]}")"
  e2e_log "disable_snapshot_annotations at its default: PullImage through $sn: the registry sent $sent bytes of the layers' $size"
  # Told by where the layers went: a full pull keeps every layer blob in containerd's content
  # store and makes ordinary snapshots; a lazy one neither (the bytes alone can be 0 here: the
  # backend's cache holds the layers' TOCs from the first round).
  pulled_as() { # full|lazy
    local l id info have remote=false
    [[ $1 == lazy ]] && remote=true
    have=$(ctr_ content ls -q 2>&1) || { echo "$have"; return 1; }
    for l in "${ESGZ_LAYERS[@]}"; do
      if grep -qxF "${l%% *}" <<<"$have"; then [[ $1 == full ]] || { echo "layer ${l%% *} in the content store"; return 1; }
      else [[ $1 == lazy ]] || { echo "layer ${l%% *} not in the content store"; return 1; }; fi
    done
    for id in "${ESGZ_CHAIN[@]}"; do
      info=$(ctr_ snapshots --snapshotter "$sn" info "$id" 2>"$W/ctr-info.err") || { echo "info $id: $(cat "$W/ctr-info.err")"; return 1; }
      jq -e --argjson r "$remote" '((.Labels["containerd.io/snapshot/remote"] // "") != "") == $r' <<<"$info" >/dev/null ||
        { echo "$id: $(tr -d '\n ' <<<"$info" | head -c 300)"; return 1; }
    done
  }
  if [[ $MAJOR == 1 ]]; then
    if ((sent >= size)); then e2e_pass default-annotations-full-download-1x; else e2e_fail default-annotations-full-download-1x "the registry sent $sent of $size bytes"; fi
    e2e_check default-annotations-full-pull-1x pulled_as full
  else
    if ((sent * 10 < size)); then e2e_pass default-annotations-under-10-percent-2x; else e2e_fail default-annotations-under-10-percent-2x "the registry sent $sent of $size bytes (>= 10 %)"; fi
    e2e_check default-annotations-lazy-transfer-2x pulled_as lazy
  fi
  out=$(cri RemoveImage "{\"image\":{\"image\":\"$image\"}}" 2>&1) || e2e_fail default-annotations-remove-image "$out"
  gone() { local c; c=$(snapshots_of "$sn"); [[ $c == 0 ]] || { echo "$c snapshots of $sn left"; return 1; }; }
  if e2e_wait 30 gone; then e2e_pass default-annotations-no-snapshot-left; else e2e_fail default-annotations-no-snapshot-left "$(gone)"; fi
}
default_annotations_round

# ---- shutdown ------------------------------------------------------------------------------------
E2E_CURRENT=shutdown
containerd_stop
snaphost_terminate 20
check_sigterm_exit
fused_stop "$SGZ_ROOT"
# The image-fs links are snaphost's: they stay (containerd or kubelet may look at any time).
mounts=$(e2e_mounts_below "$W" | tr '\n' ' ')
if [[ -z $mounts ]]; then e2e_pass no-mounts-left; else e2e_fail no-mounts-left "$mounts"; fi

e2e_finish
