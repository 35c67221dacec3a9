# shellcheck shell=bash
# Images of the stargz scale benchmark (issue 5): one image per layer count, built offline with
# umoci and cached, each layer distinct: /lK/dNN/fNNNN, 2000 files of 64-1024 seeded random
# bytes in 20 directories (a TOC of ~2,020 entries per layer), timestamps fixed. Converted with
# `ctr-remote image convert --estargz --oci` (test/e2e/lib/estargz-images.sh). Sourced after
# bench/lib/common.sh, test/e2e/lib/{containerd,estargz-images}.sh, bench/lib/stargz-registry.sh.
#   sscale_image_push N    build (first run only) and push $REGISTRY/snaphost-bench/scale-lN:esgz
SSCALE_RECIPE=1
SSCALE_FILES=2000

sscale_layer_files() { # DIR K
  python3 - "$1" "$2" "$SSCALE_FILES" <<'PY'
import os, sys, random
root, k, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(1000 + k)
for i in range(n):
    d = os.path.join(root, "l%02d" % k, "d%02d" % (i // 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%04d" % i), "wb") as f:
        f.write(r.randbytes(r.randint(64, 1024)))
PY
}

sscale_build_layout() { # DIR N
  local dir=$1 n=$2 oci=$1/oci k
  umoci init --layout "$oci" && umoci new --image "$oci:l$n" || return 1
  for ((k = 1; k <= n; k++)); do
    rm -rf "$dir/layer" && mkdir -p "$dir/layer" || return 1
    sscale_layer_files "$dir/layer" "$k" || return 1
    find "$dir/layer" -exec touch -h -d '2024-01-01 00:00:00Z' {} + &&
      umoci insert --image "$oci:l$n" --history.created_by "layer $k" "$dir/layer" / || return 1
  done
  umoci config --image "$oci:l$n" --no-history --config.workingdir / --config.cmd /bin/true && umoci gc --layout "$oci"
}

sscale_image_push() { # N
  local n=$1 cached=$E2E_CACHE/stargz-scale-r$SSCALE_RECIPE-l$1
  mkdir -p "$E2E_CACHE" || e2e_die "cannot create $E2E_CACHE"
  (
    flock -w 1800 9 || exit 1
    [[ -f $cached/oci/index.json ]] && exit 0
    tmp=$(mktemp -d "$E2E_CACHE/stargz-scale-build.XXXXXX") || exit 1
    e2e_log "building the $n-layer scale image (first run only)"
    if sscale_build_layout "$tmp" "$n" >"$tmp.log" 2>&1; then
      rm -rf "$cached" && mkdir -p "$cached" && mv "$tmp/oci" "$cached/oci"
      rc=$?
    else
      rc=1
      e2e_log "scale image build failed: $(tail -n 5 "$tmp.log" | tr '\n' ' ')"
    fi
    rm -rf "$tmp" "$tmp.log"
    exit "$rc"
  ) 9>"$E2E_CACHE/.lock-stargz-scale-l$n" || e2e_die "could not build the $n-layer scale image"
  esgz_push "$cached/oci" "l$n" "snaphost-bench/scale-l$n"
}
