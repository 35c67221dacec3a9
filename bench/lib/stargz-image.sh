# shellcheck shell=bash
# The stargz benchmark image: the recipe of the Go reference's benchmark
# (../shared/refpeers/stargz/mkimage.sh beside the clone), built offline and cached. Sourced after
# test/e2e/lib/{common,containerd,image,debian-base,estargz-images}.sh and
# bench/lib/stargz-registry.sh.
#   sbench_image_push       build (first run only) and push to $REGISTRY: snaphost-bench/stargz:gzip
#                           and its `ctr-remote image convert --estargz --oci` as :esgz (needs a
#                           running containerd for the first conversion only); sets
#                           SBENCH_BIG_SHA and SBENCH_SMALL_SHA (what every read is checked against)
# Layers (every timestamp fixed, data seeded, so the layers are the same on every build):
#   1 busybox-static + its applet links (test/e2e/lib/image.sh)
#   2 /data/big.bin: 64 MiB of seeded AES-CTR output (incompressible, like /dev/urandom);
#     /data/small/dNN/fNNNN: 5000 files of 64–2048 seeded random bytes in 50 directories
# Default eStargz chunk (4 MiB) and gzip level (9) of ctr-remote, as in the reference.

SBENCH_RECIPE=1
SBENCH_TAG=stargz
SBENCH_OCI=
# shellcheck disable=SC2034 # read by the benchmark
SBENCH_BIG_SHA=
# shellcheck disable=SC2034
SBENCH_SMALL_SHA=

sbench_big_bytes() {
  openssl enc -aes-128-ctr -nosalt -K 736e6170686f73742d62656e63682d31 -iv 0 </dev/zero 2>/dev/null | head -c $((64 * 1024 * 1024))
}

sbench_small_files() { # DIR
  python3 - "$1" <<'PY'
import os, sys, random
root, r = sys.argv[1], random.Random(42)
for i in range(5000):
    d = os.path.join(root, "d%02d" % (i // 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%04d" % i), "wb") as f:
        f.write(r.randbytes(r.randint(64, 2048)))
PY
}

# The sha256 of every small file, in path order, hashed again: one value for the 5000 files.
sbench_small_sha() { # DIR holding data/small
  (cd "$1" && find data/small -type f | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -d' ' -f1
}

sbench_build_layout() { # DIR
  local dir=$1 oci=$1/oci
  image_busybox_rootfs "$dir/rootfs" || return 1
  mkdir -p "$dir/data/small"
  sbench_big_bytes >"$dir/data/big.bin"
  sbench_small_files "$dir/data/small" || return 1
  find "$dir/data" -exec touch -h -d '2024-01-01 00:00:00Z' {} +
  umoci init --layout "$oci" &&
    umoci new --image "$oci:$SBENCH_TAG" &&
    umoci insert --image "$oci:$SBENCH_TAG" --history.created_by "1 busybox-static rootfs" "$dir/rootfs" / &&
    umoci insert --image "$oci:$SBENCH_TAG" --history.created_by "2 big.bin + 5000 small files" "$dir/data" /data &&
    umoci config --image "$oci:$SBENCH_TAG" --no-history \
      --config.env 'PATH=/usr/sbin:/usr/bin:/sbin:/bin' --config.workingdir / --config.cmd /bin/sh &&
    umoci gc --layout "$oci" || return 1
  sha256sum <"$dir/data/big.bin" | cut -d' ' -f1 >"$dir/oci/big.sha256"
  sbench_small_sha "$dir" >"$dir/oci/small.sha256"
}

sbench_image_push() {
  e2e_log "stargz benchmark image (built on the first run only)"
  image_cached_oci stargz-bench "$SBENCH_RECIPE" sbench_build_layout
  local cached=${IMAGE_CACHED_OCI%/oci}
  SBENCH_OCI=$cached/oci
  # shellcheck disable=SC2034 # read by the benchmark
  SBENCH_BIG_SHA=$(cat "$SBENCH_OCI/big.sha256")
  # shellcheck disable=SC2034
  SBENCH_SMALL_SHA=$(cat "$SBENCH_OCI/small.sha256")
  esgz_push "$SBENCH_OCI" "$SBENCH_TAG" snaphost-bench/stargz
}
