#!/usr/bin/env bash
# End to end for lazy pulling: one `snaphost serve` hosts `stargz-lazy` (and `overlayfs-native`
# alongside); a private containerd 1.6 reaches both through the `[proxy_plugins]` that
# `snaphost containerd-config` prints; the registry sits behind lib/proxy/counting-proxy.mjs,
# which counts the blob bytes it sends and can flip a byte of a blob on demand. Images (built
# offline, converted with `ctr-remote image convert --estargz --oci`, cached):
#   multilayer  the 7-layer Debian image of lib/multilayer-image.sh (whiteouts, an opaque dir,
#               hard links, symlinks, xattrs, setuid, a fifo, 20 MiB of random data), :esgz + :gzip
#   probe       busybox + a data layer (a 12 MiB file of three eStargz chunks), :esgz + :gzip,
#               and :esgz-prefetch (data/warm.bin and data/bystander.txt before the landmark)
#   transfer    (containerd 2.x only) a data layer (a 16 MiB file) below busybox, :esgz
# Checks:
#   - `ctr-remote image rpull --plain-http --snapshotter stargz-lazy` of multilayer:esgz returns
#     while the registry sent under 10 % of the layers' bytes (prefetch off), no layer blob is in
#     containerd's content store, every layer is a committed snapshot labelled
#     containerd.io/snapshot/remote, one FUSE mount per layer;
#   - `find` over the whole lazily pulled tree downloads no file data (metadata is the TOC's);
#   - a tampered chunk (the proxy flips one byte of the probe's victim.bin, 2nd chunk, before the
#     first read): reading it fails with EIO, every byte that was returned is right, the log
#     names the file, the other files of the layer read fine; once the proxy serves clean data
#     again, the same file reads whole and right (through the mount, and in a container);
#   - `ctr run` sees each layer's effect; the read-only view is identical to a normal pull of the
#     same :esgz image with containerd's built-in overlayfs (content, modes, owners, mtimes,
#     links, user.* xattrs; minus the TOC and landmark files that lazy snapshotters hide);
#   - the non-eStargz probe:gzip (no toc.digest annotation) through rpull falls back to a full
#     pull and runs; before it, each layer's tail was fetched at most once (the proxy's request
#     log); snaphost fetched none of it (allowUnverifiedLayers is false: a layer whose TOC cannot
#     be tied to the manifest is not mounted lazily) and logged each layer with reason
#     unverified_layer;
#   - a swapped blob without a TOC digest (the proxy flips a byte of probe:gzip's data layer, as a
#     MITM of a plain-HTTP registry could): the pull fails naming the digest, nothing of it is
#     mounted or committed as a remote snapshot;
#   - plain `ctr images pull` (no labels) of multilayer:gzip works, runs, and is identical to
#     `umoci unpack` of the image;
#   - containerd 2.x: plain `ctr image pull --snapshotter stargz-lazy` (the transfer service, with
#     the unpack_config entries and enable_remote_snapshot_annotations that `snaphost
#     containerd-config --containerd 2` prints) of transfer:esgz, pulled by nothing before, is
#     lazy as rpull is: under 10 % of the layers' bytes sent, no layer blob in the content store,
#     every layer a committed remote snapshot; `ctr run` of it reads its files right;
#   - prefetch (a second instance, `stargz-prefetch`, prefetch on): the files a record file put
#     before the .prefetch.landmark (probe:esgz-prefetch) are downloaded at mount time, logged,
#     and then read without registry traffic;
#   - GC after the images are removed: no snapshot and no FUSE mount is left;
#   - shutdown: no process and no mount is left.
#   bash test/e2e/stargz-lazy.e2e.sh        (root; needs `npm run build` and scripts/install-deps.sh)
# E2E_STARGZ_REF=1 puts the Go reference (stargz-snapshotter v0.12, lib/stargz-ref.sh) on the
# stargz-lazy socket instead of snaphost's backend: it proves the harness itself.
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/proxy.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/multilayer-image.sh"
. "$E2E_LIB/multilayer-probe.sh"
. "$E2E_LIB/estargz-images.sh"
. "$E2E_LIB/tree-manifest.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/stargz-ref.sh"
. "$E2E_LIB/left-behind.sh"

SN=stargz-lazy
PF=stargz-prefetch
CTR_NAMESPACE=snaphost-e2e-sgz
REFMODE=${E2E_STARGZ_REF:-0}

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci debootstrap jq curl node \
  getfattr setfattr openssl flock tar fusermount cmp
e2e_init stargz-lazy
W=$E2E_WORK
sock() { echo "$W/sockets/$1.sock"; }
if [[ $REFMODE == 1 ]]; then ROOT=$W/state/stargz-ref; else ROOT=$W/state/$SN; fi
PF_ROOT=$W/state/$PF
LOGS_NAMING=()   # logs where a failed read must be named

registry_start
proxy_start
multilayer_build
probe_build
[[ $(containerd_major) == 2 ]] && transfer_build
multilayer_reference "$W/reference"
REF=$W/reference/rootfs
[[ $REFMODE == 1 ]] && stargz_ref_build

# ---- config, [proxy_plugins], daemon(s), containerd -------------------------------------------
if [[ $REFMODE == 1 ]]; then
  LAZY_BACKEND=
else
  # Prefetch and background fetch off: what rpull downloads is then only what mounting needs (footer + TOC).
  LAZY_BACKEND="{ use: '$SN', options: { prefetch: { enabled: false }, backgroundFetch: { enabled: false } } },
    { use: '$SN', name: '$PF', options: { prefetch: { enabled: true }, backgroundFetch: { enabled: false } } },"
fi
snaphost_user_config <<EOF
    $LAZY_BACKEND
    { use: 'overlayfs-native', options: {} },
EOF
E2E_CURRENT=check-config
e2e_check check-config snaphost_cli check --config "$CONFIG"

E2E_CURRENT=containerd-config
PROXY_TOML=$W/proxy-plugins.toml
if ! snaphost_cli containerd-config --config "$CONFIG" --containerd "${E2E_CONTAINERD:-1}" >"$PROXY_TOML" 2>"$W/containerd-config.err"; then
  e2e_die "snaphost containerd-config failed: $(tail -n 3 "$W/containerd-config.err" | tr '\n' ' ')"
fi
if [[ $REFMODE == 1 ]]; then
  printf '\n[proxy_plugins."%s"]\n  type = "snapshot"\n  address = "%s"\n' "$SN" "$(sock "$SN")" >>"$PROXY_TOML"
fi
if grep -qF "\"$(sock "$SN")\"" "$PROXY_TOML" && grep -qF "\"$(sock overlayfs-native)\"" "$PROXY_TOML"; then
  e2e_pass containerd-config
else
  e2e_die "the containerd config does not declare both proxy plugins: $(tr '\n' ' ' <"$PROXY_TOML")"
fi

# The daemons first: containerd dials lazily, and a socket that appears after its first dial
# stays unreachable for up to ~3 s of reconnect backoff.
E2E_CURRENT=serve
# Registered first, so it runs after snaphost is stopped (cleanups run last first).
e2e_on_exit fused_stop "$ROOT"
e2e_on_exit fused_stop "$PF_ROOT"
snaphost_start "$CONFIG"
if [[ $REFMODE == 1 ]]; then
  mkdir -p "$W/sockets"
  stargz_ref_start "$(sock "$SN")" "$ROOT" "$PROXY"
  LOGS_NAMING+=("$STARGZ_REF_LOG")
else
  e2e_add_log fused "$ROOT/fused.log"
  e2e_add_log fused-prefetch "$PF_ROOT/fused.log"
  LOGS_NAMING+=("$SNAPHOST_LOG" "$ROOT/fused.log")
fi
# (The Go reference answers List only once it holds a snapshot; its socket is enough.)
SERVED=("$(sock overlayfs-native)")
[[ $REFMODE == 1 ]] || SERVED+=("$(sock "$SN")" "$(sock "$PF")")
if snaphost_wait_serving "${SERVED[@]}"; then
  e2e_pass serving
else
  e2e_die "snaphost does not serve ${SERVED[*]}"
fi
containerd_start "$PROXY_TOML"
ctr_wait_snapshotter "$SN" 20 || e2e_die "containerd cannot reach $SN"

E2E_CURRENT=images
esgz_push "$ML_OCI" "$ML_TAG" snaphost-e2e/multilayer
esgz_push "$PROBE_OCI" "$PROBE_TAG" snaphost-e2e/probe
printf '{"path":"data/warm.bin"}\n{"path":"data/bystander.txt"}\n' >"$W/prefetch-record.json"
esgz_push "$PROBE_OCI" "$PROBE_TAG" snaphost-e2e/probe esgz-prefetch "$W/prefetch-record.json"
PROBE_PREFETCH=$PROXY/snaphost-e2e/probe:esgz-prefetch
TRANSFER_ESGZ=
if [[ $(containerd_major) == 2 ]]; then
  esgz_push "$TRANSFER_OCI" "$TRANSFER_TAG" snaphost-e2e/transfer
  TRANSFER_ESGZ=$PROXY/snaphost-e2e/transfer:esgz
fi
ML_ESGZ=$PROXY/snaphost-e2e/multilayer:esgz
PROBE_ESGZ=$PROXY/snaphost-e2e/probe:esgz
PROBE_GZIP=$PROXY/snaphost-e2e/probe:gzip
mapfile -t ML_LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/multilayer:esgz")
mapfile -t ML_ESGZ_CHAIN < <(esgz_chain_ids "$REGISTRY/snaphost-e2e/multilayer:esgz")
[[ ${#ML_LAYERS[@]} == 7 && ${#ML_ESGZ_CHAIN[@]} == 7 ]] || e2e_die "multilayer:esgz: expected 7 layers, got ${#ML_LAYERS[@]} (chain ${#ML_ESGZ_CHAIN[@]})"
for l in "${ML_LAYERS[@]}"; do
  [[ ${l##* } == sha256:* ]] || e2e_die "multilayer:esgz layer ${l%% *} has no containerd.io/snapshot/stargz/toc.digest annotation"
done

# ---- lazy pull --------------------------------------------------------------------------------
E2E_CURRENT=rpull
rpull() { timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter "${2:-$SN}" "$1"; }
proxy_reset
start=$(date +%s%N)
if out=$(rpull "$ML_ESGZ" 2>&1); then
  e2e_pass rpull-multilayer-esgz
  e2e_log "rpull of $ML_ESGZ took $(( ($(date +%s%N) - start) / 1000000 )) ms"
else
  e2e_die "rpull $ML_ESGZ failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
fi

LAZY_SENT=0
LAZY_SIZE=0
for l in "${ML_LAYERS[@]}"; do
  read -r d size _ <<<"$l"
  LAZY_SENT=$((LAZY_SENT + $(proxy_blob_bytes "$d")))
  LAZY_SIZE=$((LAZY_SIZE + size))
done
e2e_log "rpull: the registry sent $LAZY_SENT bytes of the layers' $LAZY_SIZE ($(proxy_admin GET stats | jq '[.blobs[].requests] | add') blob GETs)"
if ((LAZY_SENT * 10 < LAZY_SIZE)); then
  e2e_pass rpull-sent-under-10-percent
else
  e2e_fail rpull-sent-under-10-percent "the registry sent $LAZY_SENT bytes of the layers' $LAZY_SIZE (>= 10 %)"
fi

no_layer_content() { # LAYER_LINE...: containerd did not download these layers itself
  local l have
  have=$(ctr_ content ls -q 2>&1) || { echo "$have"; return 1; }
  for l in "$@"; do
    ! grep -qxF "${l%% *}" <<<"$have" || { echo "layer ${l%% *} is in containerd's content store"; return 1; }
  done
}
e2e_check rpull-no-layer-in-content-store no_layer_content "${ML_LAYERS[@]}"

remote_snapshots() { # CHAIN_ID...: every layer is a committed snapshot labelled remote
  local id info ls
  ls=$(ctr_ snapshots --snapshotter "$SN" ls 2>&1) || { echo "ls: $ls"; return 1; }
  for id in "$@"; do
    awk -v k="$id" '$1 == k && $NF == "Committed" { f = 1 } END { exit !f }' <<<"$ls" || { echo "ls does not show $id committed"; return 1; }
    info=$(ctr_ snapshots --snapshotter "$SN" info "$id" 2>&1) || { echo "info $id: $info"; return 1; }
    jq -e '(.Kind | ascii_downcase) == "committed" and (.Labels["containerd.io/snapshot/remote"] // "") != ""' <<<"$info" >/dev/null ||
      { echo "$id is not a committed remote snapshot: $(tr -d '\n ' <<<"$info" | head -c 300)"; return 1; }
  done
}
e2e_check committed-remote-snapshots remote_snapshots "${ML_ESGZ_CHAIN[@]}"

fuse_count() { local n; n=$(fuse_mounts_below "$ROOT" | grep -c .); [[ $n == "$1" ]] || { echo "$n FUSE mounts below $ROOT, expected $1"; return 1; }; }
e2e_check one-fuse-mount-per-layer fuse_count 7

# Metadata comes from the TOC: walking and stat-ing the whole tree (and reading its xattrs and
# symlinks) downloads no file data. (A reachability probe of a few bytes per layer is allowed.)
E2E_CURRENT=metadata
MPM=$W/view-metadata
if out=$(ctr_view_mount "$SN" "view-meta-$$" "${ML_ESGZ_CHAIN[-1]}" "$MPM" 2>&1); then
  proxy_reset
  entries=$(find "$MPM" -printf '%p %y %m %U %G %s %T@ %l\n' | wc -l)
  getfattr -R -P -h -d -m - "$MPM/e2e" >/dev/null 2>&1
  sent=0
  for l in "${ML_LAYERS[@]}"; do sent=$((sent + $(proxy_blob_bytes "${l%% *}"))); done
  e2e_log "find over $entries entries: the registry sent $sent bytes"
  if ((entries > 5000 && sent < 4096)); then
    e2e_pass find-fetches-no-file-data
  else
    e2e_fail find-fetches-no-file-data "find saw $entries entries; the registry sent $sent bytes of the layers"
  fi
  ctr_view_unmount "$SN" "view-meta-$$" "$MPM" || e2e_fail metadata-view-unmount "could not unmount $MPM or remove its view"
else
  e2e_fail find-fetches-no-file-data "$out"
fi

# ---- a tampered chunk -------------------------------------------------------------------------
E2E_CURRENT=corrupt
VICTIM_REF=$W/victim.bin
probe_victim_bytes >"$VICTIM_REF"
if out=$(rpull "$PROBE_ESGZ" 2>&1); then e2e_pass rpull-probe-esgz; else e2e_fail rpull-probe-esgz "$(tail -n 3 <<<"$out" | tr '\n' ' ')"; fi
mapfile -t PROBE_LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/probe:esgz")
mapfile -t PROBE_CHAIN < <(esgz_chain_ids "$REGISTRY/snaphost-e2e/probe:esgz")
DATA_LAYER=${PROBE_LAYERS[1]%% *}
# Flip a byte in the middle of the compressed 2nd chunk (file offset 4 MiB) of victim.bin.
if range=$(esgz_toc_entry "$REGISTRY/snaphost-e2e/probe:esgz" "$DATA_LAYER" data/victim.bin $((4 * 1024 * 1024)) 2>&1) &&
  read -r c_start c_end <<<"$range" && [[ $c_start =~ ^[0-9]+$ && $c_end =~ ^[0-9]+$ ]]; then
  FLIP=$(((c_start + c_end) / 2))
  proxy_corrupt "$DATA_LAYER" "$FLIP"
  e2e_log "the proxy flips byte $FLIP of $DATA_LAYER (chunk of data/victim.bin at compressed $c_start-$c_end)"
  MP=$W/view-probe
  if out=$(ctr_view_mount "$SN" "view-probe-$$" "${PROBE_CHAIN[-1]}" "$MP" 2>&1); then
    cat "$MP/data/victim.bin" >"$W/victim.out" 2>"$W/victim.err"
    rc=$?
    if [[ $rc != 0 ]] && grep -q 'Input/output error' "$W/victim.err"; then
      e2e_pass corrupt-read-fails-eio
    else
      e2e_fail corrupt-read-fails-eio "cat exited $rc: $(head -c 200 "$W/victim.err")"
    fi
    got=$(stat -c %s "$W/victim.out")
    if cmp -s -n "$got" "$W/victim.out" "$VICTIM_REF" && ((got < PROBE_VICTIM_SIZE)); then
      e2e_pass corrupt-no-wrong-byte
      e2e_log "the failed read returned $got correct bytes first"
    else
      e2e_fail corrupt-no-wrong-byte "$got bytes returned, first difference: $(cmp -n "$got" "$W/victim.out" "$VICTIM_REF" 2>&1 | head -n 1)"
    fi
    served=$(proxy_corrupt_served "$DATA_LAYER")
    if ((served > 0)); then e2e_pass corrupt-byte-was-served; else e2e_fail corrupt-byte-was-served "the proxy never sent the flipped byte: the test proved nothing"; fi
    if cat "$MP/data/victim.bin" >/dev/null 2>&1; then e2e_fail corrupt-read-fails-again "a second read succeeded: bad data was kept?"; else e2e_pass corrupt-read-fails-again; fi
    # The Go reference names only the layer in its log ("statFile error" with the layer digest).
    if [[ $REFMODE == 1 ]]; then NAMED=$DATA_LAYER; else NAMED=data/victim.bin; fi
    named() { grep -lF -- "$NAMED" "${LOGS_NAMING[@]}" 2>/dev/null | grep -q .; }
    if e2e_wait 5 named; then e2e_pass corrupt-logged; else e2e_fail corrupt-logged "no line naming $NAMED in ${LOGS_NAMING[*]}"; fi
    others=$(cat "$MP/data/bystander.txt" 2>&1)
    for f in "$MP"/data/small/s*.txt; do others+="|$(cat "$f" 2>&1)"; done
    busybox_ok=$(cmp "$MP/bin/busybox" /bin/busybox 2>&1 && echo same)
    if [[ $others == "$PROBE_BYSTANDER_TEXT|small file 01|"*"|small file 20" && $(grep -o '|' <<<"$others" | wc -l) == 20 && $busybox_ok == same ]]; then
      e2e_pass corrupt-other-files-read-fine
    else
      e2e_fail corrupt-other-files-read-fine "read: $(head -c 200 <<<"$others"); busybox: $busybox_ok"
    fi
    # The registry serves clean data again: the same file now reads whole and right, through the
    # same mount and in a container (nothing bad was cached, nothing needs a restart).
    proxy_clean
    if cmp -s "$MP/data/victim.bin" "$VICTIM_REF"; then
      e2e_pass corrupt-then-clean-reads
    else
      e2e_fail corrupt-then-clean-reads "after the proxy served clean data: $(cmp "$MP/data/victim.bin" "$VICTIM_REF" 2>&1 | head -n 1)"
    fi
    out=$(ctr_ run --rm --snapshotter "$SN" "$PROBE_ESGZ" "sgz-clean-$$" /bin/sh -c 'sha256sum </data/victim.bin' 2>&1)
    want="$(sha256sum <"$VICTIM_REF" | cut -d' ' -f1)  -"
    if [[ $out == "$want" ]]; then
      e2e_pass corrupt-then-clean-reads-in-container
    else
      e2e_fail corrupt-then-clean-reads-in-container "want '$want', got: $(tail -n 3 <<<"$out" | tr '\n' '|')"
    fi
    ctr_view_unmount "$SN" "view-probe-$$" "$MP" || e2e_fail corrupt-view-unmount "could not unmount $MP or remove its view"
  else
    e2e_fail corrupt-view "$out"
  fi
  proxy_clean
else
  e2e_fail corrupt-find-chunk "$range"
fi

# ---- run: each layer's effect, seen from inside a container ------------------------------------
E2E_CURRENT=run
multilayer_probe run "$SN" "$ML_ESGZ" "sgz-run-$$" "$REF" \
  'echo "hidden=$(ls -A / | grep -cE '"'"'^(stargz\.index\.json|\.prefetch\.landmark|\.no\.prefetch\.landmark)$'"'"')"' 'hidden=0'

# ---- the lazily pulled tree is what a normal pull of the same image gives ------------------------
E2E_CURRENT=tree
ML_DIRECT=$REGISTRY/snaphost-e2e/multilayer:esgz
if out=$(ctr_ images pull --plain-http --snapshotter overlayfs "$ML_DIRECT" 2>&1); then
  e2e_pass pull-esgz-overlayfs
  MPO=$W/view-overlayfs
  MPL=$W/view-lazy
  if out=$(ctr_view_mount overlayfs "view-ovl-$$" "${ML_ESGZ_CHAIN[-1]}" "$MPO" 2>&1); then
    if out=$(ctr_view_mount "$SN" "view-lazy-$$" "${ML_ESGZ_CHAIN[-1]}" "$MPL" 2>&1); then
      lazy_tree_compare tree-identical-to-overlayfs "$MPO" "$MPL"
      ctr_view_unmount "$SN" "view-lazy-$$" "$MPL" || e2e_fail tree-view-unmount "could not unmount $MPL or remove its view"
    else
      e2e_fail tree-identical-to-overlayfs "view through $SN: $out"
    fi
    ctr_view_unmount overlayfs "view-ovl-$$" "$MPO" || e2e_fail tree-view-unmount "could not unmount $MPO or remove its view"
  else
    e2e_fail tree-identical-to-overlayfs "view through overlayfs: $out"
  fi
else
  e2e_fail pull-esgz-overlayfs "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
fi

# ---- not eStargz: rpull falls back to a full pull ---------------------------------------------------
E2E_CURRENT=fallback
mapfile -t GZ_LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/probe:gzip")
mapfile -t GZ_CHAIN < <(esgz_chain_ids "$REGISTRY/snaphost-e2e/probe:gzip")
proxy_reset
GZ_MARK=$(proxy_log_mark)
if out=$(rpull "$PROBE_GZIP" 2>&1); then e2e_pass rpull-gzip-falls-back; else e2e_fail rpull-gzip-falls-back "$(tail -n 3 <<<"$out" | tr '\n' ' ')"; fi
# Before containerd's own download, the FUSE-serving process fetched each layer's tail (the last
# 64 KiB, OPEN_TAIL_BYTES, all of a shorter blob) at most once: the open hint and the mount that follows it
# share one rejection (fused/rejected-blobs.ts).
TAIL_PROBLEMS=
for l in "${GZ_LAYERS[@]}"; do
  read -r d s _ <<<"$l"
  read -r n bytes <<<"$(proxy_blob_tail_gets "$d" "$GZ_MARK")"
  e2e_log "not eStargz: layer $d ($s bytes): $n tail request(s) of $bytes bytes; $(proxy_blob_requests "$d") GETs, $(proxy_blob_bytes "$d") bytes in all"
  ((n <= 1 && bytes <= (s < 524288 ? s : 524288))) || TAIL_PROBLEMS+="layer $d ($s bytes): $n tail requests, $bytes bytes; "
done
if [[ -z $TAIL_PROBLEMS ]]; then e2e_pass gzip-tail-fetched-at-most-once; else e2e_fail gzip-tail-fetched-at-most-once "$TAIL_PROBLEMS"; fi
if [[ $REFMODE != 1 ]]; then
  # No TOC digest: the prepare falls back before the FUSE-serving process is asked (no tail
  # request), with one warning per layer naming it and the reason.
  UNVERIFIED_PROBLEMS=
  for l in "${GZ_LAYERS[@]}"; do
    read -r d _ <<<"$l"
    read -r n _ <<<"$(proxy_blob_tail_gets "$d" "$GZ_MARK")"
    ((n == 0)) || UNVERIFIED_PROBLEMS+="layer $d: $n tail requests; "
    grep -F "\"digest\":\"$d\"" "$SNAPHOST_LOG" | grep -qF '"reason":"unverified_layer"' ||
      UNVERIFIED_PROBLEMS+="layer $d: no unverified_layer warning in $SNAPHOST_LOG; "
  done
  if [[ -z $UNVERIFIED_PROBLEMS ]]; then e2e_pass gzip-unverified-layer-not-fetched; else e2e_fail gzip-unverified-layer-not-fetched "$UNVERIFIED_PROBLEMS"; fi
fi
full_pull() { # every layer was downloaded whole, and is an ordinary snapshot
  local l d s sent id info
  for l in "${GZ_LAYERS[@]}"; do
    read -r d s _ <<<"$l"
    sent=$(proxy_blob_bytes "$d")
    ((sent >= s)) || { echo "layer $d: $sent of $s bytes sent"; return 1; }
  done
  for id in "${GZ_CHAIN[@]}"; do
    info=$(ctr_ snapshots --snapshotter "$SN" info "$id" 2>&1) || { echo "info $id: $info"; return 1; }
    jq -e '(.Kind | ascii_downcase) == "committed" and (.Labels["containerd.io/snapshot/remote"] // "") == ""' <<<"$info" >/dev/null ||
      { echo "$id: $(tr -d '\n ' <<<"$info" | head -c 300)"; return 1; }
  done
}
e2e_check gzip-full-pull-ordinary-snapshots full_pull
out=$(ctr_ run --rm --snapshotter "$SN" "$PROBE_GZIP" "sgz-gz-$$" /bin/sh -c 'cat /data/bystander.txt; sha256sum </data/victim.bin' 2>&1)
want="$PROBE_BYSTANDER_TEXT"$'\n'"$(sha256sum <"$VICTIM_REF" | cut -d' ' -f1)  -"
if [[ $out == "$want" ]]; then e2e_pass run-gzip; else e2e_fail run-gzip "got: $(tail -n 3 <<<"$out" | tr '\n' '|')"; fi

# The other backend of the same daemon works alongside.
out=$(ctr_ run --rm --snapshotter overlayfs-native "$PROBE_GZIP" "sgz-ofn-$$" /bin/sh -c 'cat /data/bystander.txt' 2>&1)
if [[ $out == "$PROBE_BYSTANDER_TEXT" ]]; then e2e_pass overlayfs-native-alongside; else e2e_fail overlayfs-native-alongside "got: $(tail -n 3 <<<"$out" | tr '\n' '|')"; fi

# ---- a swapped blob without a TOC digest ----------------------------------------------------------
# What a MITM of a plain-HTTP registry or mirror can do: serve other bytes for a layer digest.
# probe:gzip has no toc.digest annotation, so its layers are not mounted lazily (above); the
# normal pull that takes over verifies each blob against its digest and refuses the swapped one,
# and nothing of it is mounted or committed as a remote snapshot.
E2E_CURRENT=swapped-unverified
ctr_ images rm --sync "$PROBE_GZIP" >/dev/null 2>&1 || e2e_fail swapped-image-rm "ctr images rm --sync $PROBE_GZIP failed"
read -r GZ_DATA _ <<<"${GZ_LAYERS[${#GZ_LAYERS[@]} - 1]}"
SW_MOUNTS_BEFORE=$(fuse_mounts_below "$ROOT" | grep -c .) || true
proxy_reset
proxy_corrupt "$GZ_DATA" 1000
if out=$(rpull "$PROBE_GZIP" 2>&1); then
  e2e_fail swapped-unverified-refused "rpull of $PROBE_GZIP with a swapped data layer succeeded"
elif grep -qi 'digest' <<<"$out"; then
  e2e_pass swapped-unverified-refused
  e2e_log "swapped blob refused: $(grep -i -m 1 'digest' <<<"$out" | head -c 300)"
else
  e2e_fail swapped-unverified-refused "the pull failed without naming a digest: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
fi
served=$(proxy_corrupt_served "$GZ_DATA")
if ((served > 0)); then e2e_pass swapped-byte-was-served; else e2e_fail swapped-byte-was-served "the proxy never sent the flipped byte: the test proved nothing"; fi
proxy_clean
swapped_not_mounted() {
  local id info n
  n=$(fuse_mounts_below "$ROOT" | grep -c .) || true
  ((n == SW_MOUNTS_BEFORE)) || { echo "$n FUSE mounts below $ROOT, $SW_MOUNTS_BEFORE before"; return 1; }
  for id in "${GZ_CHAIN[@]}"; do
    info=$(ctr_ snapshots --snapshotter "$SN" info "$id" 2>/dev/null) || continue
    jq -e '(.Labels["containerd.io/snapshot/remote"] // "") == ""' <<<"$info" >/dev/null || { echo "$id is a remote snapshot"; return 1; }
  done
}
e2e_check swapped-not-mounted swapped_not_mounted

# ---- plain `ctr images pull`: no labels, an ordinary pull through the backend -------------------
E2E_CURRENT=plain-pull
ML_GZIP=$REGISTRY/snaphost-e2e/multilayer:gzip
if out=$(ctr_ images pull --plain-http --snapshotter "$SN" "$ML_GZIP" 2>&1); then
  e2e_pass plain-pull
  out=$(ctr_ run --rm --snapshotter "$SN" "$ML_GZIP" "sgz-plain-$$" /bin/sh -c 'cat /e2e/top.txt /e2e/replaced.txt' 2>&1)
  if [[ $out == "$ML_TOP_TEXT"$'\n'v2 ]]; then e2e_pass run-plain-pull; else e2e_fail run-plain-pull "got: $(tail -n 3 <<<"$out" | tr '\n' '|')"; fi
  MPP=$W/view-plain
  if out=$(ctr_view_mount "$SN" "view-plain-$$" "$ML_TOP_CHAIN_ID" "$MPP" 2>&1); then
    tree_compare plain-pull-tree-identical-to-umoci "$REF" "$MPP"
    ctr_view_unmount "$SN" "view-plain-$$" "$MPP" || e2e_fail plain-view-unmount "could not unmount $MPP or remove its view"
  else
    e2e_fail plain-pull-tree-identical-to-umoci "$out"
  fi
  if fuse_count 9 >/dev/null; then e2e_pass plain-pull-no-fuse-mounts; else e2e_fail plain-pull-no-fuse-mounts "$(fuse_count 9)"; fi
else
  e2e_fail plain-pull "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
fi

# ---- prefetch: the files before the landmark are downloaded at mount time ------------------------
E2E_CURRENT=prefetch
if [[ $REFMODE == 1 ]]; then
  e2e_log "prefetch checks skipped: the Go reference runs with prefetch off"
else
  mapfile -t PF_LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/probe:esgz-prefetch")
  mapfile -t PF_CHAIN < <(esgz_chain_ids "$REGISTRY/snaphost-e2e/probe:esgz-prefetch")
  PF_LAYER=${PF_LAYERS[1]%% *}
  landmark=$(esgz_toc_entry "$REGISTRY/snaphost-e2e/probe:esgz-prefetch" "$PF_LAYER" .prefetch.landmark 0 2>&1)
  landmark=${landmark%% *}
  if [[ ! $landmark =~ ^[0-9]+$ ]] || ((landmark < 2 * 1024 * 1024)); then
    e2e_fail prefetch-image "the data layer of probe:esgz-prefetch has no .prefetch.landmark after warm.bin: $landmark"
  else
    proxy_reset
    if out=$(rpull "$PROBE_PREFETCH" "$PF" 2>&1); then e2e_pass rpull-prefetch; else e2e_fail rpull-prefetch "$(tail -n 3 <<<"$out" | tr '\n' ' ')"; fi
    prefetched() { (($(proxy_blob_bytes "$PF_LAYER") >= landmark)); }
    if e2e_wait 20 prefetched; then
      e2e_pass prefetch-downloads-before-landmark
    else
      e2e_fail prefetch-downloads-before-landmark "the registry sent $(proxy_blob_bytes "$PF_LAYER") bytes of the data layer in 20 s; the files before the landmark end at $landmark"
    fi
    if grep -qi 'prefetch' "$PF_ROOT/fused.log" "$SNAPHOST_LOG" 2>/dev/null; then e2e_pass prefetch-logged; else e2e_fail prefetch-logged "no line about prefetch in $PF_ROOT/fused.log or $SNAPHOST_LOG"; fi
    MPF=$W/view-prefetch
    if out=$(ctr_view_mount "$PF" "view-pf-$$" "${PF_CHAIN[-1]}" "$MPF" 2>&1); then
      proxy_reset
      got="$(sha256sum <"$MPF/data/warm.bin" | cut -c1-64) $(cat "$MPF/data/bystander.txt" 2>&1)"
      want="$(probe_warm_bytes | sha256sum | cut -c1-64) $PROBE_BYSTANDER_TEXT"
      sent=$(proxy_blob_bytes "$PF_LAYER")
      if [[ $got == "$want" && $sent == 0 ]]; then
        e2e_pass prefetched-files-read-without-registry
      else
        e2e_fail prefetched-files-read-without-registry "read '$got' (want '$want'); the registry sent $sent bytes"
      fi
      ctr_view_unmount "$PF" "view-pf-$$" "$MPF" || e2e_fail prefetch-view-unmount "could not unmount $MPF or remove its view"
    else
      e2e_fail prefetched-files-read-without-registry "$out"
    fi
  fi
fi

# ---- containerd 2.x: a plain pull through the transfer service is lazy too ------------------------
E2E_CURRENT=transfer
if [[ $(containerd_major) == 2 ]]; then
  mapfile -t TRANSFER_LAYERS < <(esgz_layers "$REGISTRY/snaphost-e2e/transfer:esgz")
  mapfile -t TRANSFER_CHAIN < <(esgz_chain_ids "$REGISTRY/snaphost-e2e/transfer:esgz")
  proxy_reset
  start=$(date +%s%N)
  if out=$(ctr_ image pull --plain-http --snapshotter "$SN" "$TRANSFER_ESGZ" 2>&1); then
    e2e_pass transfer-pull
    e2e_log "transfer-service pull of $TRANSFER_ESGZ took $(( ($(date +%s%N) - start) / 1000000 )) ms"
    sent=0
    size=0
    for l in "${TRANSFER_LAYERS[@]}"; do
      read -r d s _ <<<"$l"
      sent=$((sent + $(proxy_blob_bytes "$d")))
      size=$((size + s))
    done
    e2e_log "transfer-service pull: the registry sent $sent bytes of the layers' $size ($((sent * 100 / size)) percent)"
    if ((sent * 10 < size)); then
      e2e_pass transfer-pull-sent-under-10-percent
    else
      e2e_fail transfer-pull-sent-under-10-percent "the registry sent $sent bytes of the layers' $size (>= 10 %)"
    fi
    e2e_check transfer-pull-no-layer-in-content-store no_layer_content "${TRANSFER_LAYERS[@]}"
    e2e_check transfer-pull-committed-remote-snapshots remote_snapshots "${TRANSFER_CHAIN[@]}"
    out=$(ctr_ run --rm --snapshotter "$SN" "$TRANSFER_ESGZ" "sgz-transfer-$$" /bin/sh -c 'cat /transfer/hello.txt; sha256sum </transfer/payload.bin' 2>&1)
    want="$TRANSFER_HELLO_TEXT"$'\n'"$(transfer_payload_bytes | sha256sum | cut -d' ' -f1)  -"
    if [[ $out == "$want" ]]; then e2e_pass run-transfer-pull; else e2e_fail run-transfer-pull "got: $(tail -n 3 <<<"$out" | tr '\n' '|')"; fi
  else
    e2e_fail transfer-pull "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
  fi
else
  e2e_log "transfer-service pull skipped: containerd $(containerd_major).x pulls with ctr through the client"
fi

# ---- GC: images removed -> no snapshot, no FUSE mount ---------------------------------------------
E2E_CURRENT=gc
# The image list is read once, into a variable: `ctr images ls -q | grep -q` under pipefail fails
# whenever grep has its match and exits before ctr has written its last line (SIGPIPE), which
# skipped the removal of an image now and then and left its snapshots behind.
IMAGES_LEFT=$(ctr_ images ls -q 2>&1) || e2e_fail image-ls "ctr images ls -q: $IMAGES_LEFT"
for img in "$ML_ESGZ" "$PROBE_ESGZ" "$PROBE_GZIP" "$ML_GZIP" "$ML_DIRECT" "$PROBE_PREFETCH" ${TRANSFER_ESGZ:+"$TRANSFER_ESGZ"}; do
  grep -qxF -- "$img" <<<"$IMAGES_LEFT" || continue
  ctr_ images rm --sync "$img" >/dev/null 2>&1 || e2e_fail "image-rm" "ctr images rm --sync $img failed"
done
all_gone() {
  local listed ctrs mounts
  listed=$(snaphost_list "$(sock "$SN")" | grep -c .) || true
  ctrs=$(ctr_ snapshots --snapshotter "$SN" ls | tail -n +2 | grep -c .) || true
  mounts=$( (fuse_mounts_below "$ROOT"; fuse_mounts_below "$PF_ROOT") | grep -c .) || true
  if [[ $REFMODE != 1 ]]; then listed=$((listed + $(snaphost_list "$(sock "$PF")" | grep -c .))); fi
  [[ $listed == 0 && $ctrs == 0 && $mounts == 0 ]] || { echo "backends list $listed, containerd $ctrs, $mounts FUSE mounts below $ROOT and $PF_ROOT"; return 1; }
}
# What is still there, named, when the check fails: which snapshots (and what holds them).
gc_leftovers() {
  echo "$(all_gone);"
  echo "snapshots: $(ctr_ snapshots --snapshotter "$SN" ls 2>&1 | tail -n +2 | awk '{print $1" parent="$2" "$3}' | tr '\n' ';')"
  echo "containers: $(ctr_ containers ls -q 2>&1 | tr '\n' ' ')"
  echo "images: $(ctr_ images ls -q 2>&1 | tr '\n' ' ')"
  echo "leases: $(ctr_ leases ls 2>&1 | tail -n +2 | tr '\n' ';')"
}
if e2e_wait 30 all_gone; then e2e_pass gc-no-snapshots-no-fuse-mounts; else e2e_fail gc-no-snapshots-no-fuse-mounts "$(gc_leftovers)"; fi

# ---- shutdown: nothing left behind ---------------------------------------------------------------
E2E_CURRENT=shutdown
containerd_stop
snaphost_terminate 20
check_sigterm_exit
if [[ $REFMODE == 1 ]]; then stargz_ref_stop; fi
# The FUSE-serving process outlives snaphost on purpose (issue 5); stopping everything is ours.
fused_stop "$ROOT"
fused_stop "$PF_ROOT"
check_no_leftovers "$ROOT" "$PF_ROOT"

e2e_finish
