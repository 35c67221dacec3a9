#!/usr/bin/env bash
# End to end for the chunk cache's disk cap (issue 5, bounded resources): `snaphost serve` hosts
# `stargz-lazy` with `cache: { diskBytes: 8 MiB, memoryBytes: 0 }`, background fetch and prefetch
# off, behind a private containerd 1.6; the registry sits behind lib/proxy/counting-proxy.mjs.
# The image (built offline, cached): busybox + a data layer of six 3 MiB files of seeded random
# bytes (one eStargz chunk each; 18 MiB of file data, more than twice the cap).
# Checks:
#   - rpull is lazy (every layer a remote snapshot);
#   - each file read in a container has the checksum of the original, and after each read
#     `du -sb <root>/cache` is at most the cap plus one chunk;
#   - the cap evicted chunks (the FUSE process logs its eviction summary) and the cache is not
#     empty (it still caches what was read last);
#   - every file reads correctly again after the evictions (the kernel's page cache of the files
#     dropped first, so the reads reach the FUSE process), and the evicted ones were fetched from
#     the registry again (nothing is served from a dropped cache, nothing is wrong);
#   - shutdown: no process and no mount is left.
#   bash test/e2e/stargz-lazy-cache.e2e.sh   (root; needs `npm run build` and scripts/install-deps.sh)
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/proxy.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/estargz-images.sh"
. "$E2E_LIB/tree-manifest.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/left-behind.sh"

SN=stargz-lazy
CTR_NAMESPACE=snaphost-e2e-sgz-cache
CAP=$((8 * 1024 * 1024))
FILE_SIZE=$((3 * 1024 * 1024))
CHUNK_SLACK=$((4 * 1024 * 1024)) # ctr-remote's default eStargz chunk size
FILES=(f1 f2 f3 f4 f5 f6)
CACHE_RECIPE=1

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node openssl flock fusermount du dd
e2e_init stargz-lazy-cache
W=$E2E_WORK
ROOT=$W/state/$SN

# The bytes of /data/NAME.bin: seeded (the key is the name), the same on every run.
cache_file_bytes() {
  openssl enc -aes-128-ctr -nosalt -K "$(printf 'cap-e2e-%-8s' "$1" | od -An -tx1 | tr -d ' \n')" -iv 0 </dev/zero 2>/dev/null | head -c "$FILE_SIZE"
}

cache_image_layout() {
  local dir=$1 oci=$1/oci f
  image_busybox_rootfs "$dir/rootfs" || return 1
  mkdir -p "$dir/data"
  for f in "${FILES[@]}"; do cache_file_bytes "$f" >"$dir/data/$f.bin"; done
  find "$dir/data" -exec touch -h -d '2024-01-01 00:00:00Z' {} +
  umoci init --layout "$oci" &&
    umoci new --image "$oci:cache" &&
    umoci insert --image "$oci:cache" --history.created_by "1 busybox-static rootfs" "$dir/rootfs" / &&
    umoci insert --image "$oci:cache" --history.created_by "2 data" "$dir/data" /data &&
    umoci config --image "$oci:cache" --no-history \
      --config.env 'PATH=/usr/sbin:/usr/bin:/sbin:/bin' --config.workingdir / --config.cmd /bin/sh &&
    umoci gc --layout "$oci"
}

cache_image_build() { # sets CACHE_OCI
  image_cached_oci cap "$CACHE_RECIPE" cache_image_layout
  CACHE_OCI=$IMAGE_CACHED_OCI
}

registry_start
proxy_start
cache_image_build

# ---- config, daemon, containerd ------------------------------------------------------------------
snaphost_user_config <<EOF
    {
      use: '$SN',
      options: {
        cache: { diskBytes: $CAP, memoryBytes: 0 },
        backgroundFetch: { enabled: false },
        prefetch: { enabled: false },
      },
    },
EOF
E2E_CURRENT=containerd-config
snaphost_proxy_toml

E2E_CURRENT=serve
e2e_on_exit fused_stop "$ROOT"
snaphost_start "$CONFIG"
e2e_add_log fused "$ROOT/fused.log"
snaphost_wait_serving "$W/sockets/$SN.sock" || e2e_die "snaphost does not serve $W/sockets/$SN.sock"
containerd_start "$PROXY_TOML"
ctr_wait_snapshotter "$SN" 20 || e2e_die "containerd cannot reach $SN"

E2E_CURRENT=image
esgz_push "$CACHE_OCI" cache snaphost-e2e/cache
IMG=$PROXY/snaphost-e2e/cache:esgz
mapfile -t LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/cache:esgz")
mapfile -t CHAIN < <(esgz_chain_ids "$REGISTRY/snaphost-e2e/cache:esgz")
[[ ${#LAYERS[@]} == 2 && ${#CHAIN[@]} == 2 ]] || e2e_die "cache:esgz: expected 2 layers, got ${#LAYERS[@]}"
DATA_LAYER=${LAYERS[1]%% *}
declare -A WANT
for f in "${FILES[@]}"; do WANT[$f]=$(cache_file_bytes "$f" | sha256sum | cut -c1-64); done

# ---- lazy pull ----------------------------------------------------------------------------------
E2E_CURRENT=rpull
if out=$(timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter "$SN" "$IMG" 2>&1); then
  e2e_pass rpull
else
  e2e_die "rpull $IMG failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
fi
remote_snapshots() {
  local id info
  for id in "${CHAIN[@]}"; do
    info=$(ctr_ snapshots --snapshotter "$SN" info "$id" 2>&1) || { echo "info $id: $info"; return 1; }
    jq -e '(.Labels["containerd.io/snapshot/remote"] // "") != ""' <<<"$info" >/dev/null || { echo "$id is not a remote snapshot"; return 1; }
  done
}
e2e_check remote-snapshots remote_snapshots

cache_du() { du -sb "$ROOT/cache" | cut -f1; }
MAX_DU=0
# read_all PASS: read every file in a container, check its checksum and the cache's size after it.
read_all() {
  local pass=$1 f out bad=0 over=0 du
  for f in "${FILES[@]}"; do
    out=$(ctr_ run --rm --snapshotter "$SN" "$IMG" "sgz-cache-$pass-$f-$$" /bin/sh -c "sha256sum </data/$f.bin" 2>&1)
    if [[ $out != "${WANT[$f]}  -" ]]; then
      bad=1
      e2e_fail "$pass-read-$f" "want ${WANT[$f]}, got: $(tail -n 3 <<<"$out" | tr '\n' '|')"
    fi
    du=$(cache_du)
    ((du > MAX_DU)) && MAX_DU=$du
    if ((du > CAP + CHUNK_SLACK)); then
      over=1
      e2e_fail "$pass-cache-under-cap-$f" "du -sb $ROOT/cache = $du after reading $f; cap $CAP + one chunk $CHUNK_SLACK"
    fi
  done
  ((bad == 0)) && e2e_pass "$pass-every-file-reads-right"
  ((over == 0)) && e2e_pass "$pass-cache-under-cap-after-each-read"
  e2e_log "$pass: largest cache size seen $MAX_DU bytes (cap $CAP)"
}

# ---- first pass: more file data than the cap --------------------------------------------------------
E2E_CURRENT=first-pass
proxy_reset
read_all first
SENT1=$(proxy_blob_bytes "$DATA_LAYER")
e2e_log "first pass: the registry sent $SENT1 bytes of the data layer"
evicted() { grep -q 'chunk cache: evicted least recently used chunks to stay under its cap' "$ROOT/fused.log"; }
# The summary is logged at most every 5 s: wait for it.
if e2e_wait 10 evicted; then e2e_pass evictions-happened; else e2e_fail evictions-happened "no eviction summary in $ROOT/fused.log"; fi
du=$(cache_du)
if ((du > FILE_SIZE)); then e2e_pass cache-still-caches; else e2e_fail cache-still-caches "du -sb $ROOT/cache = $du: the cache holds less than one file"; fi

# ---- second pass: everything again, after the evictions ---------------------------------------
E2E_CURRENT=second-pass
# The kernel's page cache of the FUSE files would answer the reads without asking the FUSE
# process: drop it for the data files (POSIX_FADV_DONTNEED through the layer's mount), so that
# every read of the second pass goes through the chunk cache and, for evicted chunks, the registry.
drop_page_cache() {
  local m f dropped=0
  while read -r m; do
    [[ -f $m/data/${FILES[0]}.bin ]] || continue
    for f in "${FILES[@]}"; do dd if="$m/data/$f.bin" iflag=nocache count=0 status=none && dropped=$((dropped + 1)); done
  done < <(fuse_mounts_below "$ROOT")
  ((dropped == ${#FILES[@]})) || { echo "dropped the page cache of $dropped files, expected ${#FILES[@]}"; return 1; }
}
e2e_check drop-page-cache drop_page_cache
proxy_reset
read_all second
SENT2=$(proxy_blob_bytes "$DATA_LAYER")
e2e_log "second pass: the registry sent $SENT2 bytes of the data layer"
# Six 3 MiB files through an 8 MiB cache (two files at most), read in the same order: each read
# evicts a file that the next ones need, so (nearly) all of them come from the registry again.
if ((SENT2 >= 4 * FILE_SIZE)); then
  e2e_pass evicted-files-fetched-again
else
  e2e_fail evicted-files-fetched-again "the registry sent $SENT2 bytes in the second pass (expected at least $((4 * FILE_SIZE)))"
fi

# ---- shutdown ---------------------------------------------------------------------------------------
E2E_CURRENT=shutdown
ctr_ images rm --sync "$IMG" >/dev/null 2>&1 || e2e_fail image-rm "ctr images rm --sync $IMG failed"
containerd_stop
snaphost_terminate 20
check_sigterm_exit
fused_stop "$ROOT"
check_no_leftovers "$ROOT"

e2e_finish
