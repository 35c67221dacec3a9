#!/usr/bin/env bash
# The snaphost DaemonSet's pod (issue 15's benchmark rows): the image's size, the pod's start to
# ready, and the pod's memory after 10 lazily pulled images. The pod runs as test/e2e/lib/daemonset.sh
# runs it (`ctr run` of deploy/kubernetes/daemonset.yaml through a private containerd 1.6).
#
#   bash bench/daemonset-pod.sh     (root; needs `npm run build` and scripts/install-deps.sh)
#
#   size     the image's layers, compressed (the registry manifest) and unpacked (`du` of the
#            snapshot containerd unpacked it into)
#   ready    RUNS times: `ctr run` of the pod → the readiness probe (`snaphost wait-ready` by
#            `ctr task exec`, polled every second; kubelet polls every periodSeconds, 10 s) passes;
#            then SIGTERM and wait
#   memory   10 distinct one-layer eStargz images (a seeded 4 MiB file and 200 small files each)
#            rpulled through stargz-lazy (10 FUSE layers mounted), then VmRSS of the daemon and of
#            the FUSE-serving process
# Output: bench/results/daemonset-pod.tsv (metric, median, min, max), -machine.txt.
# Env: RUNS (3), E2E_DS_IMAGE_LAYOUT (reuse an OCI layout of scripts/build-image.sh, tag e2e),
#      E2E_KEEP_WORK=1.
set -uo pipefail
. "$(dirname "$0")/../test/e2e/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/multilayer-image.sh"
. "$E2E_LIB/estargz-images.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/daemonset.sh"

RUNS=${RUNS:-3}
CTR_NAMESPACE=snaphost-bench-ds
OUT=$REPO_ROOT/bench/results
e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node fusermount openssl strip
# A short work dir: the FUSE process's generation socket lies deep below it (a unix socket path is at most 107 bytes).
e2e_init dsb
W=$E2E_WORK
mkdir -p "$OUT"
RAW=$W/raw.tsv
: >"$RAW"

registry_start
ds_setup
LAZY_ROOT=$DS_ROOT_DIR/stargz-lazy
e2e_on_exit fused_stop "$LAZY_ROOT"
ds_containerd_toml 1 >"$W/drop-in.toml"
containerd_start "$W/drop-in.toml"
ds_link_containerd

REPO=$REGISTRY/snaphost/snaphost
if [[ -n ${E2E_DS_IMAGE_LAYOUT:-} ]]; then
  skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$E2E_DS_IMAGE_LAYOUT:e2e" "docker://$REPO:e2e" >/dev/null || e2e_die "cannot push the layout"
  REF=$REPO@sha256:$(skopeo inspect --raw --tls-verify=false "docker://$REPO:e2e" | sha256sum | cut -d' ' -f1)
else
  REF=$(bash "$REPO_ROOT/scripts/build-image.sh" --out "$W/image" --tag e2e --push "$REPO:e2e" 2>"$W/build.log" | tail -n 1)
  [[ $REF == "$REPO@sha256:"* ]] || e2e_die "build-image failed: $(tail -n 3 "$W/build.log")"
fi
ds_pull "$REF" || e2e_die "cannot pull $REF"

# ---- size ---------------------------------------------------------------------------------
COMPRESSED=$(curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REGISTRY/v2/snaphost/snaphost/manifests/e2e" | jq '[.layers[].size] | add')
mkdir -p "$W/rootfs-view"
ctr_ images mount "$REF" "$W/rootfs-view" >/dev/null 2>&1 || e2e_die "cannot mount the image"
UNPACKED=$(du -sb "$W/rootfs-view" | cut -f1)
ctr_ images unmount --rm "$W/rootfs-view" >/dev/null 2>&1 || umount "$W/rootfs-view"
printf 'image_compressed_mb\t%s\nimage_unpacked_mb\t%s\n' "$(jq -n "$COMPRESSED / 1048576 | . * 10 | round / 10")" "$(jq -n "$UNPACKED / 1048576 | . * 10 | round / 10")" >>"$RAW"

# ---- start to ready ------------------------------------------------------------------------
for ((r = 1; r <= RUNS; r++)); do
  t0=$(date +%s%N)
  ds_start "$REF" || e2e_die "ctr run failed"
  ds_wait_ready 120 || e2e_die "not ready within 120 s"
  printf 'start_to_ready_s\t%s\n' "$(jq -n "($(date +%s%N) - $t0) / 1e9 | . * 10 | round / 10")" >>"$RAW"
  [[ $r == "$RUNS" ]] || ds_graceful_stop
done

# ---- memory after 10 lazily pulled images ---------------------------------------------------
one_layer_layout() { # DIR I
  local dir=$1 i=$2 oci=$1/oci n
  mkdir -p "$dir/data/small"
  openssl enc -aes-128-ctr -nosalt -K "$(printf '%032x' "$i")" -iv 0 </dev/zero 2>/dev/null | head -c $((4 * 1024 * 1024)) >"$dir/data/data.bin"
  for n in $(seq -w 1 200); do echo "image $i small file $n" >"$dir/data/small/s$n.txt"; done
  find "$dir/data" -exec touch -h -d '2024-01-01 00:00:00Z' {} +
  umoci init --layout "$oci" && umoci new --image "$oci:img" &&
    umoci insert --image "$oci:img" --history.created_by "data $i" "$dir/data" "/bench$i" && umoci gc --layout "$oci"
}
for i in $(seq 1 10); do
  one_layer_layout "$W/img$i" "$i" >"$W/img$i.log" 2>&1 || e2e_die "cannot build image $i: $(tail -n 2 "$W/img$i.log")"
  esgz_push "$W/img$i/oci" img "bench/img$i"
  timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter stargz-lazy "$REGISTRY/bench/img$i:esgz" >/dev/null 2>&1 ||
    e2e_die "rpull of image $i failed"
done
MOUNTED=$(fuse_mounts_below "$LAZY_ROOT" | wc -l)
[[ $MOUNTED == 10 ]] || e2e_die "$MOUNTED FUSE layers mounted, want 10"
rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
DAEMON_PID=$(ctr_ tasks ls | awk -v id="$DS_ID" '$1 == id { print $2 }')
# With fusedOnHost the process serves one generation's root (<root>/generations/<id>).
GEN_ROOT=$(find "$LAZY_ROOT/generations" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | head -n 1)
FUSED_PID=$(fused_pids "${GEN_ROOT:-$LAZY_ROOT}" | head -n 1)
[[ -n $DAEMON_PID && -n $FUSED_PID ]] || e2e_die "daemon pid '$DAEMON_PID' or FUSE process pid '$FUSED_PID' not found"
printf 'daemon_rss_mb_10_images\t%s\nfused_rss_mb_10_images\t%s\n' "$(rss_mb "$DAEMON_PID")" "$(rss_mb "$FUSED_PID")" >>"$RAW"
for i in $(seq 1 10); do ctr_ images rm --sync "$REGISTRY/bench/img$i:esgz" >/dev/null 2>&1; done
ds_graceful_stop
snaphost_cli shutdown --config "$DS_CONFIG_DIR/plugins.config.ts" --timeout 60 >/dev/null 2>&1

awk -F'\t' '{ v[$1] = v[$1] " " $2; order[$1] = order[$1] ? order[$1] : ++n; names[n] = $1 }
  END { print "metric\tmedian\tmin\tmax\tn"
        for (k = 1; k <= n; k++) { m = names[k]; c = split(substr(v[m], 2), a, " ")
          for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
          printf "%s\t%s\t%s\t%s\t%d\n", m, a[int((c + 1) / 2)], a[1], a[c], c } }' "$RAW" >"$OUT/daemonset-pod.tsv"
{ echo "date: $(date -u +%FT%TZ)"; echo "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD)"; echo "image: $REF"; echo "load: $(cat /proc/loadavg)"; nproc; } >"$OUT/daemonset-pod-machine.txt"
cat "$OUT/daemonset-pod.tsv"
e2e_pass bench
e2e_finish
