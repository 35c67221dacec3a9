#!/usr/bin/env bash
# Lazy pull against a full pull as the image grows: snaphost's `stargz-lazy` and the Go
# stargz-snapshotter (v0.12, test/e2e/lib/stargz-ref.sh) `rpull`, and containerd's overlayfs
# `ctr image pull` (full download + unpack), on images that differ only in the size of
# /data/big.bin. Issue 4's target "rpull <= 0.1x a full overlayfs pull" is measured by
# bench/stargz-lazy.sh on the 64 MiB image only; this shows how the ratio moves with the size.
#
#   bash bench/stargz-lazy-pull-sizes.sh    (root; installs what is missing and builds, like CI)
#
# Images (bench/lib/stargz-size-image.sh, built offline, cached): the stargz benchmark image
# (bench/lib/stargz-image.sh: busybox layer + a layer with big.bin and 5000 small files) with a
# big.bin of each size in SIZES (MiB; 64 is that image itself), converted with `ctr-remote image
# convert --estargz --oci` (4 MiB chunks). One containerd 1.6, one local registry. The method is
# bench/stargz-lazy.sh's rpull and overlayfs-pull steps: both lazy snapshotters purely on demand
# (no prefetch, no background fetch); every step starts from wiped snapshotter roots (caches
# included) and a wiped containerd (content store included, sbench_fresh); the page cache is
# dropped and the script waits until the CPUs are mostly idle before every timed step. Per run,
# per image, contenders alternate, order reversed every other run:
#   stargz-lazy, stargz-go   `ctr-remote image rpull --plain-http` wall time (rpull_s), blob GETs
#                            and bytes the registry sent (its access log)
#   overlayfs                `ctr image pull --plain-http` wall time (pull_s), GETs and bytes
# After each pull (untimed) `ctr run --rm … echo ok` checks the image runs.
# Output: bench/results/stargz-lazy-pull-sizes.tsv (image, contender, metric, n, median, min,
# max; contender `image` holds layer_bytes: the compressed bytes of its layers),
# stargz-lazy-pull-sizes-raw.tsv, stargz-lazy-pull-sizes-machine.txt; the Markdown table:
# node bench/lib/stargz-pull-sizes-markdown.mjs.
# Env: RUNS (3), SIZES ("64 256"), CONTENDERS ("stargz-lazy stargz-go overlayfs"),
#      BENCH_SKIP_INSTALL=1, BENCH_QUIET_IDLE, BENCH_QUIET_TIMEOUT, E2E_KEEP_WORK=1.
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/estargz-images.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/stargz-ref.sh"
. "$BENCH_LIB/stargz-registry.sh"
. "$BENCH_LIB/stargz-image.sh"
. "$BENCH_LIB/stargz-size-image.sh"
. "$BENCH_LIB/stargz-go-deps.sh"
. "$BENCH_LIB/stargz-contenders.sh"
# shellcheck disable=SC2034 # read by ctr_ (test/e2e/lib/containerd.sh)
CTR_NAMESPACE=snaphost-bench-pull-sizes

RUNS=${RUNS:-3}
SIZES=${SIZES:-"64 256"}
CONTENDERS=${CONTENDERS:-"stargz-lazy stargz-go overlayfs"}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive integer" >&2; exit 2; }
[[ -n ${SIZES// /} ]] || { echo "SIZES must name at least one size" >&2; exit 2; }
for s in $SIZES; do
  [[ $s =~ ^[1-9][0-9]*$ && $s -le 4096 ]] || { echo "SIZES: '$s' is not a size in MiB (1-4096)" >&2; exit 2; }
done
[[ -n ${CONTENDERS// /} ]] || { echo "CONTENDERS must name at least one contender" >&2; exit 2; }
for c in $CONTENDERS; do
  [[ $c =~ ^(stargz-lazy|stargz-go|overlayfs)$ ]] || { echo "unknown contender: $c" >&2; exit 2; }
done

e2e_require_root
sbench_go_deps || exit 1
e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node go openssl python3 fusermount flock
bench_init bench-stargz-pull-sizes
W=$E2E_WORK
OUT=$BENCH_RESULTS/stargz-lazy-pull-sizes
bench_machine >"$OUT-machine.txt"
printf 'image\tcontender\tmetric\trep\tvalue\n' >"$W/raw.tsv"

sbench_registry_start
sbench_contenders_init
[[ " $CONTENDERS " == *" stargz-go "* ]] && stargz_ref_build
sbench_fresh overlayfs
declare -A REF LAYER_BYTES
for s in $SIZES; do
  ssize_image_push "$s"
  REF[$s]=$SSIZE_REF
  mapfile -t layers < <(esgz_layers "$SSIZE_REF")
  [[ ${#layers[@]} == 2 ]] || e2e_die "$SSIZE_REF: expected 2 layers, got ${#layers[@]}"
  bytes=0
  for l in "${layers[@]}"; do
    read -r _ size toc <<<"$l"
    [[ $toc == sha256:* ]] || e2e_die "$SSIZE_REF: a layer has no containerd.io/snapshot/stargz/toc.digest annotation"
    bytes=$((bytes + size))
  done
  LAYER_BYTES[$s]=$bytes
  e2e_log "image $SSIZE_REF: layers ${layers[*]}"
  echo "image ${s}MiB: $SSIZE_REF, big.bin $s MiB, 2 layers, $bytes compressed bytes (eStargz, 4 MiB chunks)" >>"$OUT-machine.txt"
done
echo "go reference: $(dpkg-query -W -f='stargz-snapshotter ${Version}' golang-github-containerd-stargz-snapshotter-dev), $(go version | cut -d' ' -f3)" >>"$OUT-machine.txt"

# ---- helpers (bench/stargz-lazy.sh's, with an image column) ------------------------------------
sample() { # image contender metric rep value
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$W/raw.tsv"
  e2e_log "run $4 $1 $2 $3 = $5"
}
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }'; }
cold() { bench_wait_quiet; bench_drop_caches; }
sent() { # image contender rep metric-prefix mark end-mark: record blob GETs and bytes between the marks
  local gets bytes
  read -r gets bytes < <(sbench_registry_sent "$5" "$6")
  sample "$1" "$2" "${4}_blob_gets" "$3" "$gets"
  sample "$1" "$2" "${4}_blob_bytes" "$3" "$bytes"
}
container_ok() { # contender image-ref: `ctr run` prints ok
  local out
  out=$(ctr_ run --rm --snapshotter "$1" "$2" "bench-run-$$" echo ok 2>&1)
  [[ $out == ok ]] || e2e_die "$1: the container of $2 printed '$out', expected 'ok'"
}

pull() { # size contender rep: one timed pull from fresh state
  local s=$1 c=$2 i=$3 ref=${REF[$1]} t t1 mark end metric=rpull
  [[ $c == overlayfs ]] && metric=pull
  sbench_fresh "$c"
  cold
  mark=$(sbench_registry_mark)
  t=$EPOCHREALTIME
  if [[ $c == overlayfs ]]; then
    ctr_ images pull --plain-http --snapshotter overlayfs "$ref" >/dev/null 2>"$W/pull.err"
  else
    timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter "$c" "$ref" >/dev/null 2>"$W/pull.err"
  fi || e2e_die "$c: $metric of $ref failed: $(tail -n 3 "$W/pull.err" | tr '\n' ' ')"
  t1=$(secs_since "$t")
  end=$(sbench_registry_mark)
  sample "${s}MiB" "$c" "${metric}_s" "$i" "$t1"
  sent "${s}MiB" "$c" "$i" "$metric" "$mark" "$end"
  container_ok "$c" "$ref"
}

# ---- the measurement --------------------------------------------------------------------------
read -ra order <<<"$CONTENDERS"
e2e_log "RUNS=$RUNS, sizes (MiB): $SIZES, contenders: $CONTENDERS"
for s in $SIZES; do sample "${s}MiB" image layer_bytes 1 "${LAYER_BYTES[$s]}"; done
for ((run = 1; run <= RUNS; run++)); do
  list=("${order[@]}")
  if ((run % 2 == 0)); then
    list=()
    for ((k = ${#order[@]} - 1; k >= 0; k--)); do list+=("${order[k]}"); done
  fi
  for s in $SIZES; do
    for c in "${list[@]}"; do pull "$s" "$c" "$run"; done
  done
done
sbench_stop_all
bench_load_at_end >>"$OUT-machine.txt"

# ---- results: median, min, max per image, contender and metric ---------------------------------
cp "$W/raw.tsv" "$OUT-raw.tsv"
printf 'image\tcontender\tmetric\tn\tmedian\tmin\tmax\n' >"$OUT.tsv"
for s in $SIZES; do
  awk -F'\t' -v OFS='\t' -v img="${s}MiB" 'NR == 1 || $1 == img { print $2, $3, $4, $5 }' "$OUT-raw.tsv" >"$W/raw-$s.tsv"
  bench_summarize "$W/raw-$s.tsv" "$W/summary-$s.tsv"
  awk -v img="${s}MiB" 'NR > 1 { print img "\t" $0 }' "$W/summary-$s.tsv" >>"$OUT.tsv"
done
column -t -s $'\t' "$OUT.tsv"
echo
node "$BENCH_LIB/stargz-pull-sizes-markdown.mjs" "$OUT.tsv" || e2e_die "cannot make the Markdown table from $OUT.tsv"
e2e_log "results: $OUT.tsv"
e2e_pass stargz-lazy-pull-sizes-bench
e2e_finish
