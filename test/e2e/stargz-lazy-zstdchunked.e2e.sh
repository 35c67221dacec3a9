#!/usr/bin/env bash
# End to end for zstd:chunked layers through stargz-lazy (issue 16): one `snaphost serve` hosts
# `stargz-lazy` (prefetch and background fetch off) and `overlayfs-native`; a private containerd
# (1.6, or 2.x with E2E_CONTAINERD=2); the registry behind lib/proxy/counting-proxy.mjs. Images
# built offline (lib/multilayer-image.sh, lib/estargz-images.sh) and converted with
# `ctr-remote image convert --zstdchunked --oci` (cached per tag, as the eStargz conversions are):
#   multilayer:zstdchunked  7 layers: whiteouts, an opaque dir, hard links, symlinks, xattrs,
#                           setuid, a fifo, 20 MiB of random data
#   probe:zstdchunked       busybox + data (a 12 MiB file of three 4 MiB chunks)
#   probe:zstd              the probe with plain zstd layers (`skopeo --dest-compress-format zstd`)
# Checks:
#   - rpull of multilayer:zstdchunked is lazy: the registry sent under 10 % of the layers' bytes,
#     every layer is a committed remote snapshot, one FUSE mount per layer;
#   - `snaphost status` names each layer's format (format=zstd:chunked);
#   - the lazily pulled tree is identical to a full pull of the same image by containerd's own
#     overlayfs (content, modes, owners, xattrs, links, devices, times);
#   - a tampered chunk (the proxy flips a byte inside the zstd frame of victim.bin's 2nd chunk):
#     the read fails with EIO, no wrong byte is returned; once the proxy serves clean data the
#     same file reads whole and right;
#   - a plain zstd image (no TOC) through rpull falls back to a full pull and runs;
#   - GC and shutdown leave no snapshot, mount or process.
#   bash test/e2e/stargz-lazy-zstdchunked.e2e.sh   (root; needs `npm run build`)
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
. "$E2E_LIB/tree-manifest.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/left-behind.sh"

SN=stargz-lazy
CTR_NAMESPACE=snaphost-e2e-zstd
e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci debootstrap jq curl node \
  getfattr setfattr openssl flock tar fusermount cmp
e2e_init stargz-lazy-zstdchunked
W=$E2E_WORK
sock() { echo "$W/sockets/$1.sock"; }
ROOT=$W/state/$SN

registry_start
proxy_start
multilayer_build
probe_build

snaphost_user_config <<EOF2
    { use: '$SN', options: { prefetch: { enabled: false }, backgroundFetch: { enabled: false } } },
    { use: 'overlayfs-native', options: {} },
EOF2
E2E_CURRENT=containerd-config
PROXY_TOML=$W/proxy-plugins.toml
snaphost_cli containerd-config --config "$CONFIG" --containerd "${E2E_CONTAINERD:-1}" >"$PROXY_TOML" 2>"$W/containerd-config.err" ||
  e2e_die "snaphost containerd-config failed: $(tail -n 3 "$W/containerd-config.err" | tr '\n' ' ')"
E2E_CURRENT=serve
e2e_on_exit fused_stop "$ROOT"
snaphost_start "$CONFIG"
e2e_add_log fused "$ROOT/fused.log"
snaphost_wait_serving "$(sock "$SN")" "$(sock overlayfs-native)" || e2e_die "snaphost does not serve"
containerd_start "$PROXY_TOML"
ctr_wait_snapshotter "$SN" 20 || e2e_die "containerd cannot reach $SN"

# ---- images -----------------------------------------------------------------------------------
E2E_CURRENT=images
ESGZ_CONVERT=--zstdchunked esgz_push "$ML_OCI" "$ML_TAG" snaphost-e2e/multilayer zstdchunked
ESGZ_CONVERT=--zstdchunked esgz_push "$PROBE_OCI" "$PROBE_TAG" snaphost-e2e/probe zstdchunked
skopeo --insecure-policy copy --quiet --dest-tls-verify=false --dest-compress-format zstd \
  "oci:$PROBE_OCI:$PROBE_TAG" "docker://$REGISTRY/snaphost-e2e/probe:zstd" >"$W/push-zstd.log" 2>&1 ||
  e2e_die "skopeo copy to probe:zstd failed: $(tail -n 3 "$W/push-zstd.log" | tr '\n' ' ')"
ML_Z=$PROXY/snaphost-e2e/multilayer:zstdchunked
PROBE_Z=$PROXY/snaphost-e2e/probe:zstdchunked
PROBE_PLAIN=$PROXY/snaphost-e2e/probe:zstd
manifest() { curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REGISTRY/v2/snaphost-e2e/$1"; }
mapfile -t ML_LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/multilayer:zstdchunked")
mapfile -t ML_CHAIN < <(esgz_chain_ids "$REGISTRY/snaphost-e2e/multilayer:zstdchunked")
[[ ${#ML_LAYERS[@]} == 7 && ${#ML_CHAIN[@]} == 7 ]] || e2e_die "multilayer:zstdchunked: expected 7 layers, got ${#ML_LAYERS[@]}"
zstd_layers() { # every layer is zstd with a TOC digest and the zstd:chunked manifest position
  manifest multilayer/manifests/zstdchunked | jq -e '[.layers[] | select((.mediaType | endswith("+zstd")) and
    (.annotations["containerd.io/snapshot/stargz/toc.digest"] // "" | startswith("sha256:")) and
    (.annotations["io.containers.zstd-chunked.manifest-position"] // "") != "")] | length == 7' >/dev/null ||
    { manifest multilayer/manifests/zstdchunked | jq -c '[.layers[] | {mediaType, annotations}]' | head -c 400; return 1; }
}
e2e_check converted-zstdchunked-layers zstd_layers

# ---- lazy pull --------------------------------------------------------------------------------
E2E_CURRENT=rpull
rpull() { timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter "$SN" "$1"; }
proxy_reset
start=$(date +%s%N)
out=$(rpull "$ML_Z" 2>&1) || e2e_die "rpull $ML_Z failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
e2e_pass rpull-multilayer-zstdchunked
e2e_log "rpull of $ML_Z took $(( ($(date +%s%N) - start) / 1000000 )) ms"
SENT=0
SIZE=0
for l in "${ML_LAYERS[@]}"; do
  read -r d size _ <<<"$l"
  SENT=$((SENT + $(proxy_blob_bytes "$d")))
  SIZE=$((SIZE + size))
done
e2e_log "rpull: the registry sent $SENT bytes of the layers' $SIZE"
if ((SENT * 10 < SIZE)); then e2e_pass rpull-sent-under-10-percent; else e2e_fail rpull-sent-under-10-percent "sent $SENT of $SIZE bytes (>= 10 %)"; fi
remote_snapshots() {
  local id info
  for id in "$@"; do
    info=$(ctr_ snapshots --snapshotter "$SN" info "$id" 2>&1) || { echo "info $id: $info"; return 1; }
    jq -e '(.Kind | ascii_downcase) == "committed" and (.Labels["containerd.io/snapshot/remote"] // "") != ""' <<<"$info" >/dev/null ||
      { echo "$id is not a committed remote snapshot"; return 1; }
  done
}
e2e_check committed-remote-snapshots remote_snapshots "${ML_CHAIN[@]}"
fuse_count() { local n; n=$(fuse_mounts_below "$ROOT" | grep -c .); [[ $n == "$1" ]] || { echo "$n FUSE mounts below $ROOT, expected $1"; return 1; }; }
e2e_check one-fuse-mount-per-layer fuse_count 7

E2E_CURRENT=status
status_format() {
  local s n
  s=$(snaphost_cli status --config "$CONFIG" 2>&1) || { echo "status: $(tail -n 3 <<<"$s")"; return 1; }
  n=$(grep -c 'format=zstd:chunked' <<<"$s")
  ((n == 7)) || { echo "$n layers with format=zstd:chunked in: $(head -c 600 <<<"$s")"; return 1; }
}
e2e_check status-shows-zstdchunked-format status_format

# ---- the lazily pulled tree is what a full pull of the same image gives ------------------------
E2E_CURRENT=tree
ML_DIRECT=$REGISTRY/snaphost-e2e/multilayer:zstdchunked
if out=$(ctr_ images pull --plain-http --snapshotter overlayfs "$ML_DIRECT" 2>&1); then
  MPO=$W/view-overlayfs
  MPL=$W/view-lazy
  if out=$(ctr_view_mount overlayfs "view-ovl-$$" "${ML_CHAIN[-1]}" "$MPO" 2>&1); then
    if out=$(ctr_view_mount "$SN" "view-lazy-$$" "${ML_CHAIN[-1]}" "$MPL" 2>&1); then
      lazy_tree_compare tree-identical-to-full-pull "$MPO" "$MPL"
      ctr_view_unmount "$SN" "view-lazy-$$" "$MPL" || e2e_fail tree-view-unmount "could not unmount $MPL"
    else
      e2e_fail tree-identical-to-full-pull "view through $SN: $out"
    fi
    ctr_view_unmount overlayfs "view-ovl-$$" "$MPO" || e2e_fail tree-view-unmount "could not unmount $MPO"
  else
    e2e_fail tree-identical-to-full-pull "view through overlayfs: $out"
  fi
else
  e2e_fail tree-identical-to-full-pull "full pull: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
fi

# ---- a tampered chunk -------------------------------------------------------------------------
E2E_CURRENT=corrupt
VICTIM_REF=$W/victim.bin
probe_victim_bytes >"$VICTIM_REF"
out=$(rpull "$PROBE_Z" 2>&1) && e2e_pass rpull-probe-zstdchunked || e2e_fail rpull-probe-zstdchunked "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
mapfile -t PROBE_LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/probe:zstdchunked")
mapfile -t PROBE_CHAIN < <(esgz_chain_ids "$REGISTRY/snaphost-e2e/probe:zstdchunked")
DATA_LAYER=${PROBE_LAYERS[1]%% *}
curl -fsS -o "$W/data-layer.blob" "http://$REGISTRY/v2/snaphost-e2e/probe/blobs/$DATA_LAYER"
if range=$(node "$E2E_LIB/zstd-toc-entry.mjs" "$W/data-layer.blob" data/victim.bin $((4 * 1024 * 1024)) 2>&1) &&
  read -r c_start c_end <<<"$range" && [[ $c_start =~ ^[0-9]+$ && $c_end =~ ^[0-9]+$ ]]; then
  FLIP=$(((c_start + c_end) / 2))
  proxy_corrupt "$DATA_LAYER" "$FLIP"
  e2e_log "the proxy flips byte $FLIP of $DATA_LAYER (zstd frame of data/victim.bin's 2nd chunk at $c_start-$c_end)"
  MP=$W/view-probe
  if out=$(ctr_view_mount "$SN" "view-probe-$$" "${PROBE_CHAIN[-1]}" "$MP" 2>&1); then
    cat "$MP/data/victim.bin" >"$W/victim.out" 2>"$W/victim.err"
    rc=$?
    if [[ $rc != 0 ]] && grep -q 'Input/output error' "$W/victim.err"; then e2e_pass corrupt-read-fails-eio; else e2e_fail corrupt-read-fails-eio "cat exited $rc: $(head -c 200 "$W/victim.err")"; fi
    got=$(stat -c %s "$W/victim.out")
    if cmp -s -n "$got" "$W/victim.out" "$VICTIM_REF" && ((got < PROBE_VICTIM_SIZE)); then e2e_pass corrupt-no-wrong-byte; else e2e_fail corrupt-no-wrong-byte "$got bytes returned"; fi
    served=$(proxy_corrupt_served "$DATA_LAYER")
    ((served > 0)) && e2e_pass corrupt-byte-was-served || e2e_fail corrupt-byte-was-served "the proxy never sent the flipped byte"
    if [[ $(cat "$MP/data/bystander.txt" 2>&1) == "$PROBE_BYSTANDER_TEXT" ]]; then e2e_pass corrupt-other-files-read-fine; else e2e_fail corrupt-other-files-read-fine "bystander.txt"; fi
    proxy_clean
    if cmp -s "$MP/data/victim.bin" "$VICTIM_REF"; then e2e_pass corrupt-then-clean-reads; else e2e_fail corrupt-then-clean-reads "$(cmp "$MP/data/victim.bin" "$VICTIM_REF" 2>&1 | head -n 1)"; fi
    ctr_view_unmount "$SN" "view-probe-$$" "$MP" || e2e_fail corrupt-view-unmount "could not unmount $MP"
  else
    e2e_fail corrupt-view "$out"
  fi
  proxy_clean
else
  e2e_fail corrupt-find-chunk "$range"
fi

# ---- plain zstd: rpull falls back to a full pull -------------------------------------------------
E2E_CURRENT=fallback
mapfile -t PLAIN_LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/probe:zstd")
mapfile -t PLAIN_CHAIN < <(esgz_chain_ids "$REGISTRY/snaphost-e2e/probe:zstd")
proxy_reset
out=$(rpull "$PROBE_PLAIN" 2>&1) && e2e_pass rpull-plain-zstd-falls-back || e2e_fail rpull-plain-zstd-falls-back "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
full_pull() {
  local l d s sent id info
  for l in "${PLAIN_LAYERS[@]}"; do
    read -r d s _ <<<"$l"
    sent=$(proxy_blob_bytes "$d")
    ((sent >= s)) || { echo "layer $d: $sent of $s bytes sent"; return 1; }
  done
  for id in "${PLAIN_CHAIN[@]}"; do
    info=$(ctr_ snapshots --snapshotter "$SN" info "$id" 2>&1) || { echo "info $id: $info"; return 1; }
    jq -e '(.Labels["containerd.io/snapshot/remote"] // "") == ""' <<<"$info" >/dev/null || { echo "$id is a remote snapshot"; return 1; }
  done
}
e2e_check plain-zstd-full-pull full_pull
out=$(ctr_ run --rm --snapshotter "$SN" "$PROBE_PLAIN" "zstd-plain-$$" /bin/sh -c 'cat /data/bystander.txt; sha256sum </data/victim.bin' 2>&1)
want="$PROBE_BYSTANDER_TEXT"$'\n'"$(sha256sum <"$VICTIM_REF" | cut -d' ' -f1)  -"
if [[ $out == "$want" ]]; then e2e_pass run-plain-zstd; else e2e_fail run-plain-zstd "got: $(tail -n 3 <<<"$out" | tr '\n' '|')"; fi
out=$(ctr_ run --rm --snapshotter "$SN" "$PROBE_Z" "zstd-lazy-$$" /bin/sh -c 'sha256sum </data/victim.bin' 2>&1)
if [[ $out == "$(sha256sum <"$VICTIM_REF" | cut -d' ' -f1)  -" ]]; then e2e_pass run-zstdchunked; else e2e_fail run-zstdchunked "got: $(tail -n 3 <<<"$out" | tr '\n' '|')"; fi

# ---- GC and shutdown ------------------------------------------------------------------------------
E2E_CURRENT=gc
IMAGES_LEFT=$(ctr_ images ls -q 2>&1)
for img in "$ML_Z" "$ML_DIRECT" "$PROBE_Z" "$PROBE_PLAIN"; do
  grep -qxF -- "$img" <<<"$IMAGES_LEFT" || continue
  ctr_ images rm --sync "$img" >/dev/null 2>&1 || e2e_fail image-rm "ctr images rm --sync $img failed"
done
all_gone() {
  local listed ctrs mounts
  listed=$(snaphost_list "$(sock "$SN")" | grep -c .) || true
  ctrs=$(ctr_ snapshots --snapshotter "$SN" ls | tail -n +2 | grep -c .) || true
  mounts=$(fuse_mounts_below "$ROOT" | grep -c .) || true
  [[ $listed == 0 && $ctrs == 0 && $mounts == 0 ]] || { echo "backend lists $listed, containerd $ctrs, $mounts FUSE mounts"; return 1; }
}
if e2e_wait 30 all_gone; then e2e_pass gc-no-snapshots-no-fuse-mounts; else e2e_fail gc-no-snapshots-no-fuse-mounts "$(all_gone)"; fi

E2E_CURRENT=shutdown
containerd_stop
snaphost_terminate 20
check_sigterm_exit
fused_stop "$ROOT"
check_no_leftovers "$ROOT"
e2e_finish
