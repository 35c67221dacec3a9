# shellcheck shell=bash
# The stargz benchmark image with another size of /data/big.bin (bench/stargz-lazy-pull-sizes.sh).
# Everything else is the reference image's recipe (bench/lib/stargz-image.sh: busybox layer, then
# big.bin + the same 5000 seeded small files, fixed timestamps), built offline and cached under
# $E2E_CACHE/stargz-size-<MiB>m-r$SSIZE_RECIPE (image_cached_oci, test/e2e/lib/image.sh), converted with `ctr-remote image convert --estargz
# --oci` (test/e2e/lib/estargz-images.sh). big.bin is the same seeded AES-CTR stream, cut at
# another length (so its first 64 MiB are the reference image's big.bin). Sourced after
# bench/lib/common.sh, test/e2e/lib/{containerd,image,estargz-images}.sh,
# bench/lib/stargz-registry.sh and bench/lib/stargz-image.sh (whose helpers it reuses).
#   ssize_image_push MIB    build (first run only) and push the image with a MIB MiB big.bin;
#                           64 is the reference image itself (sbench_image_push); sets SSIZE_REF
#                           (the :esgz reference in $REGISTRY), SBENCH_BIG_SHA and SBENCH_SMALL_SHA

SSIZE_RECIPE=1
SSIZE_REF=
SSIZE_MIB=

# MIB MiB of the reference image's big.bin stream (the key of sbench_big_bytes, which stops at 64 MiB)
ssize_big_bytes() { # MIB
  openssl enc -aes-128-ctr -nosalt -K 736e6170686f73742d62656e63682d31 -iv 0 </dev/zero 2>/dev/null | head -c $(($1 * 1024 * 1024))
}

# The reference layout with big.bin of MIB MiB: sbench_build_layout with its big.bin source
# redefined, in a subshell, so the recipe cannot drift from the reference image's.
ssize_build_layout() { # DIR MIB
  local mib=$2
  (
    # shellcheck disable=SC2317 # called by sbench_build_layout
    sbench_big_bytes() { ssize_big_bytes "$mib"; }
    sbench_build_layout "$1"
  )
}

# The layout image_cached_oci builds: the reference layout with a $SSIZE_MIB MiB big.bin.
ssize_layout() { ssize_build_layout "$1" "$SSIZE_MIB"; }

ssize_image_push() {
  local mib=$1 cached name
  [[ $mib =~ ^[1-9][0-9]*$ ]] || e2e_die "ssize_image_push: size '$mib' is not a positive number of MiB"
  if [[ $mib == 64 ]]; then
    sbench_image_push
    # shellcheck disable=SC2034 # read by the benchmark
    SSIZE_REF=$REGISTRY/snaphost-bench/stargz:esgz
    return 0
  fi
  name=snaphost-bench/stargz-size-${mib}m
  SSIZE_MIB=$mib
  e2e_log "stargz benchmark image with a $mib MiB big.bin (built on the first run only)"
  image_cached_oci "stargz-size-${mib}m" "$SSIZE_RECIPE" ssize_layout
  cached=${IMAGE_CACHED_OCI%/oci}
  # shellcheck disable=SC2034 # read by the benchmark
  SBENCH_BIG_SHA=$(cat "$cached/oci/big.sha256")
  # shellcheck disable=SC2034
  SBENCH_SMALL_SHA=$(cat "$cached/oci/small.sha256")
  esgz_push "$cached/oci" "$SBENCH_TAG" "$name"
  # shellcheck disable=SC2034 # read by the benchmark
  SSIZE_REF=$REGISTRY/$name:esgz
}
