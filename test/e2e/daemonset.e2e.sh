#!/usr/bin/env bash
# End to end for the Kubernetes deployment, without a cluster: the snaphost image built from this
# checkout (scripts/build-image.sh) runs as the DaemonSet's pod exactly as kubelet would run it
# (lib/daemonset.sh: `ctr run` with the pod spec's privileges, host paths and propagation, the
# ConfigMap, command and probes, all read from deploy/kubernetes), through the test's node
# containerd (E2E_CONTAINERD=1: 1.6; 2: 2.x), whose config is the committed containerd drop-in
# (deploy/kubernetes/containerd/) with the test's host-path prefix applied. Checks:
#   - the drop-in, imported by a config.toml as docs/kubernetes.md says, is read by containerd's
#     own loader (`containerd config dump`): a proxy plugin per backend, at the pod's sockets;
#   - the image, pushed to the private registry, pulled into the node containerd (default
#     snapshotter) and started: the readiness probe (`snaphost wait-ready`, by `ctr task exec`)
#     passes, the liveness probe (GET /metrics on the host network) answers; time to ready logged;
#     the CRI proxy's socket (criProxy.listen) is on the host;
#   - the node containerd reaches each backend's socket in the pod's host path;
#   - memory and overlayfs-native: a plain pull into each and a container started by the node's
#     runc reads the image's 12 MiB file right; memory's tmpfs (mounted in the pod) is visible
#     on the host (Bidirectional propagation);
#   - stargz-lazy: `ctr-remote image rpull` of the eStargz image through the counting proxy sends
#     under 10 % of the layers' bytes; every layer's FUSE mount is in the host's
#     /proc/self/mountinfo below the pod's root; a container started by the host's runc reads
#     the lazily pulled 12 MiB file right;
#   - teardown: images removed and GC'd (no FUSE mount left), the pod stopped by SIGTERM exits 0
#     within terminationGracePeriodSeconds, `snaphost shutdown` stops what outlives it (the
#     FUSE-serving process on the host), nothing mounted below the node's host paths, no process
#     left, no socket left.
#   bash test/e2e/daemonset.e2e.sh                     (root; needs `npm run build` and
#   E2E_CONTAINERD=2 bash test/e2e/daemonset.e2e.sh    scripts/install-deps.sh)
# E2E_DS_IMAGE_LAYOUT=DIR reuses an OCI layout built before by scripts/build-image.sh --out DIR
# (tag e2e) instead of building one.
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/proxy.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/multilayer-image.sh"
. "$E2E_LIB/estargz-images.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/daemonset.sh"

CTR_NAMESPACE=snaphost-e2e-ds
MAJOR=$(containerd_major)
CONTAINERD_BIN=${CONTAINERD_BIN_DIR:+$CONTAINERD_BIN_DIR/}containerd
BACKENDS=(memory overlayfs-native stargz-lazy)

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node fusermount flock openssl strip
e2e_init daemonset
W=$E2E_WORK

registry_start
proxy_start
ds_setup
LAZY_ROOT=$DS_ROOT_DIR/stargz-lazy
# Registered early, so it runs after the pod and containerd are stopped.
e2e_on_exit fused_stop "$LAZY_ROOT"

# ---- the node's containerd, from the committed drop-in -------------------------------------
E2E_CURRENT=drop-in
ds_containerd_toml "$MAJOR" >"$W/snaphost-drop-in.toml"
mkdir -p "$W/dump"
printf 'version = %s\nimports = ["%s"]\n' "$((MAJOR + 1))" "$W/snaphost-drop-in.toml" >"$W/dump/config.toml"
dump_has_proxies() {
  local dump n
  dump=$(timeout 30 "$CONTAINERD_BIN" --config "$W/dump/config.toml" config dump 2>&1) || { echo "$dump" | tail -n 3; return 1; }
  for n in "${BACKENDS[@]}"; do
    # (1.6 dumps "strings", 2.x 'strings'.)
    grep -qE "^ *address = [\"']$DS_SOCKET_DIR/$n\.sock[\"']" <<<"$dump" || { echo "no proxy plugin $n at $DS_SOCKET_DIR/$n.sock in the dump"; return 1; }
    if [[ $MAJOR == 2 ]]; then
      grep -qE "^ *snapshotter = [\"']$n[\"']" <<<"$dump" || { echo "no transfer-service unpack entry for $n in the dump"; return 1; }
    fi
  done
}
e2e_check drop-in-imported dump_has_proxies
containerd_start "$W/snaphost-drop-in.toml"
ds_link_containerd

# ---- the image, as CI builds it ---------------------------------------------------------------
E2E_CURRENT=image
IMAGE_REPO=$REGISTRY/snaphost/snaphost
if [[ -n ${E2E_DS_IMAGE_LAYOUT:-} ]]; then
  skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$E2E_DS_IMAGE_LAYOUT:e2e" "docker://$IMAGE_REPO:e2e" >"$W/push.log" 2>&1 ||
    e2e_die "cannot push $E2E_DS_IMAGE_LAYOUT: $(tail -n 3 "$W/push.log" | tr '\n' ' ')"
  POD_IMAGE=$IMAGE_REPO@$(skopeo inspect --raw --tls-verify=false "docker://$IMAGE_REPO:e2e" | sha256sum | cut -d' ' -f1 | sed 's/^/sha256:/')
else
  start=$SECONDS
  POD_IMAGE=$(bash "$REPO_ROOT/scripts/build-image.sh" --out "$W/image" --tag e2e --push "$IMAGE_REPO:e2e" 2>"$W/build-image.log" | tail -n 1)
  e2e_add_log build-image "$W/build-image.log"
  [[ $POD_IMAGE == "$IMAGE_REPO@sha256:"* ]] || e2e_die "scripts/build-image.sh did not print $IMAGE_REPO@sha256:...: '$POD_IMAGE'"
  e2e_log "image built and pushed in $((SECONDS - start)) s: $POD_IMAGE"
fi
e2e_pass image-pushed
e2e_check pod-image-pulled ds_pull "$POD_IMAGE"

# ---- the pod ---------------------------------------------------------------------------------
E2E_CURRENT=pod
start_ns=$(date +%s%N)
ds_start "$POD_IMAGE" || e2e_die "ctr run of the pod failed"
if ds_wait_ready 90; then
  READY_MS=$((($(date +%s%N) - start_ns) / 1000000))
  e2e_pass pod-ready
  e2e_log "pod start to ready: $READY_MS ms"
else
  e2e_die "the readiness probe did not pass within 90 s"
fi
e2e_check pod-live e2e_wait 30 ds_live
for n in "${BACKENDS[@]}"; do
  e2e_check "socket-$n-on-host" test -S "$DS_SOCKET_DIR/$n.sock"
  e2e_check "containerd-reaches-$n" ctr_wait_snapshotter "$n" 20
done

# The CRI image-service proxy kubelet would dial (criProxy.listen, on the /run/snaphost host path).
CRI_SOCK=$(sed -n "s#.*criProxy:.*listen: '\([^']*\)'.*#\1#p" "$DS_CONFIG_DIR/plugins.config.ts")
[[ -n $CRI_SOCK ]] || e2e_die "no criProxy.listen in the pod's config"
e2e_check cri-proxy-socket-on-host test -S "$CRI_SOCK"

# ---- workloads through each backend ------------------------------------------------------------
E2E_CURRENT=workloads
probe_build
esgz_push "$PROBE_OCI" "$PROBE_TAG" snaphost-e2e/probe
WANT=$(probe_victim_bytes | sha256sum | cut -d' ' -f1)
reads_victim() { # SNAPSHOTTER IMAGE NAME: a container on SNAPSHOTTER reads /data/victim.bin right
  local got
  got=$(ctr_ run --rm --snapshotter "$1" "$2" "$3" sha256sum /data/victim.bin 2>&1) || { echo "$got" | tail -n 3; return 1; }
  [[ ${got%% *} == "$WANT" ]] || { echo "sha256 ${got%% *}, want $WANT"; return 1; }
}
GZIP_REF=$REGISTRY/snaphost-e2e/probe:gzip
for n in memory overlayfs-native; do
  e2e_check "pull-$n" ctr_ images pull --plain-http --snapshotter "$n" "$GZIP_REF"
  e2e_check "run-$n" reads_victim "$n" "$GZIP_REF" "ds-run-$n"
done
memory_tmpfs_on_host() { awk -v d="$DS_ROOT_DIR/memory" '$5 == d || index($5, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; }
e2e_check memory-tmpfs-propagated-to-host memory_tmpfs_on_host

E2E_CURRENT=lazy
ESGZ_REF=$PROXY/snaphost-e2e/probe:esgz
mapfile -t LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/probe:esgz")
proxy_reset
if out=$(timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter stargz-lazy "$ESGZ_REF" 2>&1); then
  e2e_pass rpull-stargz-lazy
else
  e2e_fail rpull-stargz-lazy "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
fi
SENT=0 SIZE=0
for l in "${LAYERS[@]}"; do
  read -r d size _ <<<"$l"
  SENT=$((SENT + $(proxy_blob_bytes "$d")))
  SIZE=$((SIZE + size))
done
e2e_log "rpull through the pod: the registry sent $SENT bytes of the layers' $SIZE"
if ((SIZE > 0 && SENT * 10 < SIZE)); then e2e_pass rpull-lazy-under-10-percent; else e2e_fail rpull-lazy-under-10-percent "sent $SENT of $SIZE bytes"; fi
FUSE_N=$(fuse_mounts_below "$LAZY_ROOT" | wc -l)
if ((FUSE_N == ${#LAYERS[@]})); then e2e_pass fuse-mounts-visible-on-host; else e2e_fail fuse-mounts-visible-on-host "$FUSE_N FUSE mounts below $LAZY_ROOT in the host's mountinfo, want ${#LAYERS[@]}"; fi
e2e_check run-stargz-lazy reads_victim stargz-lazy "$ESGZ_REF" ds-run-lazy

# ---- teardown --------------------------------------------------------------------------------
E2E_CURRENT=teardown
ctr_ images rm --sync "$GZIP_REF" "$ESGZ_REF" >/dev/null 2>&1
no_fuse_left() { [[ -z $(fuse_mounts_below "$LAZY_ROOT") ]]; }
e2e_check gc-releases-fuse-mounts e2e_wait 20 no_fuse_left
ds_graceful_stop
if [[ $DS_EXIT == 0 ]]; then e2e_pass pod-sigterm-exit-0; else e2e_fail pod-sigterm-exit-0 "exit status ${DS_EXIT:-?}"; fi
# What outlives the pod on purpose (the FUSE-serving process on the host) is stopped by the
# explicit full stop, with the pod's config (its paths are the host's).
e2e_check snaphost-shutdown snaphost_cli shutdown --config "$DS_CONFIG_DIR/plugins.config.ts" --timeout 60
nothing_left() {
  local mounts procs socks
  mounts=$(e2e_mounts_below "$DS_PREFIX" | tr '\n' ' ')
  procs=$(e2e_pids_mentioning "$DS_PREFIX" | tr '\n' ' ')
  socks=$(find "$DS_SOCKET_DIR" -type s 2>/dev/null | tr '\n' ' ')
  [[ -z $mounts && -z $procs && -z $socks ]] || { echo "mounts: ${mounts:-none}; processes: ${procs:-none}; sockets: ${socks:-none}"; return 1; }
}
e2e_wait 15 nothing_left
e2e_check nothing-left-behind nothing_left
e2e_finish
