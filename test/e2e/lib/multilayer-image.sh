# shellcheck shell=bash
# The multi-layer Debian test image, built offline and pushed to the private registry. Sourced
# after common.sh, registry.sh and debian-base.sh.
#   multilayer_build         build (or reuse from the cache) the OCI layout; sets ML_OCI, ML_TAG,
#                            ML_DIFF_IDS / ML_CHAIN_IDS (arrays, bottom layer first), ML_TOP_CHAIN_ID
#   multilayer_push          multilayer_build + push to $REGISTRY; sets ML_IMAGE
#   multilayer_reference DIR `umoci unpack` of the same image: the reference rootfs in DIR/rootfs
#
# Layers, bottom first (every timestamp fixed and the random data seeded, so the same recipe gives
# the same diff ids on every machine and run):
#   1 debian-base   debootstrap --variant=minbase bookworm (debian-base.sh), ~10k entries
#   2 fixtures      /e2e: gone-file, gone-dir/{f1,sub/f2}, opaque/{old-1,old-sub/old-2},
#                   replaced.txt ("v1"), keep.txt
#   3 whiteout      .wh. of the file /e2e/gone-file
#   4 whiteout      .wh. of the directory /e2e/gone-dir
#   5 whiteout      .wh. of /usr/share/doc, a directory of the Debian layer (hundreds of entries)
#   6 opaque        /e2e/opaque with .wh..wh..opq + new-1, new-sub/new-2 (old-* must disappear)
#   7 special       /e2e/special: hard links (a, a-link, d/a-link2: one inode), symlinks (relative,
#                   absolute, dangling, to a directory), a file with user.* xattrs, a setuid 4755
#                   file owned by 1234:1234, a 0600 file, a sticky 1777 dir, an empty dir, a fifo,
#                   a name with spaces, big.bin (20 MiB of seeded random bytes);
#                   /e2e/replaced.txt ("v2", replaces layer 2's) and /e2e/top.txt
# Cached as an OCI layout under $E2E_CACHE/multilayer-r<recipe>/ (the image is ~60 MB gzip).

ML_RECIPE=1
ML_TAG=multilayer
ML_OCI=
ML_IMAGE=
ML_DIFF_IDS=()
ML_CHAIN_IDS=()
ML_TOP_CHAIN_ID=
ML_EPOCH='2024-01-01 00:00:00Z'
# What the checks in the e2e scripts expect to read in the image.
ML_TOP_TEXT='snaphost-e2e top layer'
ML_BIG_SIZE=$((20 * 1024 * 1024))

ml_fix_times() { find "$1" -exec touch -h -d "$ML_EPOCH" {} +; }

# N bytes of deterministic pseudo-random data (AES-CTR keystream of a fixed key).
ml_random_bytes() {
  openssl enc -aes-128-ctr -nosalt -K 736e6170686f73742d6532652d6b6579 -iv 0 </dev/zero 2>/dev/null | head -c "$1"
}

ml_layer_fixtures() {
  local d=$1
  mkdir -p "$d/gone-dir/sub" "$d/opaque/old-sub"
  echo "whited out by layer 3" >"$d/gone-file"
  echo "f1" >"$d/gone-dir/f1"
  echo "f2" >"$d/gone-dir/sub/f2"
  echo "old 1" >"$d/opaque/old-1"
  echo "old 2" >"$d/opaque/old-sub/old-2"
  echo "v1" >"$d/replaced.txt"
  echo "kept from layer 2" >"$d/keep.txt"
  ml_fix_times "$d"
}

ml_layer_opaque() {
  local d=$1
  mkdir -p "$d/new-sub"
  echo "new 1" >"$d/new-1"
  echo "new 2" >"$d/new-sub/new-2"
  ml_fix_times "$d"
}

ml_layer_special() {
  local d=$1 s=$1/special
  mkdir -p "$s/d" "$s/dir" "$s/empty" "$s/sticky"
  echo "one inode, three names" >"$s/a"
  ln "$s/a" "$s/a-link"
  ln "$s/a" "$s/d/a-link2"
  echo "in dir" >"$s/dir/file"
  ln -s a "$s/sym-relative"
  ln -s /etc/debian_version "$s/sym-absolute"
  ln -s does-not-exist "$s/sym-dangling"
  ln -s dir "$s/sym-dir"
  echo "has xattrs" >"$s/xattr"
  setfattr -n user.snaphost -v "e2e value" "$s/xattr"
  setfattr -n user.second -v 0x00ff10 "$s/xattr"
  echo "setuid" >"$s/setuid"
  chown 1234:1234 "$s/setuid"
  chmod 4755 "$s/setuid"
  echo "private" >"$s/private"
  chmod 0600 "$s/private"
  chmod 1777 "$s/sticky"
  mkfifo "$s/fifo"
  echo "spaces" >"$s/name with spaces"
  ml_random_bytes "$ML_BIG_SIZE" >"$s/big.bin"
  echo "v2" >"$d/replaced.txt"
  echo "$ML_TOP_TEXT" >"$d/top.txt"
  ml_fix_times "$d"
}

# Build the OCI layout into DIR/oci (DIR is scratch space).
ml_build_layout() {
  local dir=$1 oci=$1/oci base tarball
  tarball=$(debian_base_tarball) || return 1
  base=$dir/base
  mkdir -p "$base"
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$base" -xf "$tarball" || return 1
  umoci init --layout "$oci" &&
    umoci new --image "$oci:$ML_TAG" &&
    umoci insert --image "$oci:$ML_TAG" --history.created_by "1 debootstrap minbase bookworm" "$base" / &&
    rm -rf "$base" &&
    ml_layer_fixtures "$dir/fixtures" &&
    umoci insert --image "$oci:$ML_TAG" --history.created_by "2 fixtures" "$dir/fixtures" /e2e &&
    umoci insert --image "$oci:$ML_TAG" --whiteout --history.created_by "3 whiteout file" /e2e/gone-file &&
    umoci insert --image "$oci:$ML_TAG" --whiteout --history.created_by "4 whiteout dir" /e2e/gone-dir &&
    umoci insert --image "$oci:$ML_TAG" --whiteout --history.created_by "5 whiteout base dir" /usr/share/doc &&
    ml_layer_opaque "$dir/opaque" &&
    umoci insert --image "$oci:$ML_TAG" --opaque --history.created_by "6 opaque dir" "$dir/opaque" /e2e/opaque &&
    ml_layer_special "$dir/special" &&
    umoci insert --image "$oci:$ML_TAG" --history.created_by "7 special files" "$dir/special" /e2e &&
    umoci config --image "$oci:$ML_TAG" --no-history \
      --config.env 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --config.workingdir / --config.cmd /bin/bash &&
    umoci gc --layout "$oci"
}

# Diff ids and chain ids from the layout's config.
ml_read_ids() {
  local manifest config i prev
  manifest=$(jq -r --arg t "$ML_TAG" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$ML_OCI/index.json") || return 1
  config=$(jq -r '.config.digest' "$ML_OCI/blobs/sha256/${manifest#sha256:}") || return 1
  mapfile -t ML_DIFF_IDS < <(jq -r '.rootfs.diff_ids[]' "$ML_OCI/blobs/sha256/${config#sha256:}")
  [[ ${#ML_DIFF_IDS[@]} -eq 7 ]] || return 1
  ML_CHAIN_IDS=("${ML_DIFF_IDS[0]}")
  for ((i = 1; i < ${#ML_DIFF_IDS[@]}; i++)); do
    prev=${ML_CHAIN_IDS[i - 1]}
    ML_CHAIN_IDS+=("sha256:$(printf '%s %s' "$prev" "${ML_DIFF_IDS[i]}" | sha256sum | cut -d' ' -f1)")
  done
  ML_TOP_CHAIN_ID=${ML_CHAIN_IDS[-1]}
}

multilayer_build() {
  local cached=$E2E_CACHE/multilayer-r$ML_RECIPE-base-r$DEBIAN_BASE_RECIPE
  mkdir -p "$E2E_CACHE" || e2e_die "cannot create $E2E_CACHE"
  (
    flock -w 900 9 || { echo "timed out waiting for $E2E_CACHE/.lock-multilayer" >&2; exit 1; }
    [[ -f $cached/oci/index.json ]] && exit 0
    rm -rf "$E2E_CACHE"/multilayer-build.* "$cached.new"   # left by an interrupted build
    tmp=$(mktemp -d "$E2E_CACHE/multilayer-build.XXXXXX") || exit 1
    e2e_log "building the multi-layer image (first run only) in $tmp"
    if ml_build_layout "$tmp" >"$tmp.log" 2>&1; then
      rm -rf "$cached" && mv "$tmp/oci" "$cached.new" && mkdir -p "$cached" && mv "$cached.new" "$cached/oci"
      rc=$?
    else
      rc=1
      e2e_log "image build failed: $(tail -n 5 "$tmp.log" | tr '\n' ' ')"
    fi
    rm -rf "$tmp" "$tmp.log"
    exit "$rc"
  ) 9>"$E2E_CACHE/.lock-multilayer" || e2e_die "could not build the multi-layer image"
  ML_OCI=$cached/oci
  ml_read_ids || e2e_die "cannot read the diff ids of $ML_OCI:$ML_TAG (expected 7 layers)"
}

multilayer_push() {
  local log=$E2E_WORK/multilayer-push.log
  multilayer_build
  ML_IMAGE=$REGISTRY/snaphost-e2e/debian-multilayer:latest
  skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$ML_OCI:$ML_TAG" "docker://$ML_IMAGE" >"$log" 2>&1 ||
    e2e_die "skopeo copy to $ML_IMAGE failed: $(tail -n 3 "$log" | tr '\n' ' ')"
  e2e_log "pushed $ML_IMAGE (7 layers, top chain id $ML_TOP_CHAIN_ID)"
}

multilayer_reference() {
  local dir=$1
  [[ -n $ML_OCI ]] || multilayer_build
  rm -rf "$dir"
  umoci unpack --image "$ML_OCI:$ML_TAG" "$dir" >"$dir.log" 2>&1 ||
    e2e_die "umoci unpack of the reference rootfs failed: $(tail -n 3 "$dir.log" | tr '\n' ' ')"
}
