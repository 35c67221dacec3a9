#!/usr/bin/env bash
# Lazy pulling on containerd 2.x, the two ways to ask for it, side by side in one run: plain
# `ctr image pull --snapshotter stargz-lazy` (the 2.x `ctr`: containerd's transfer service, which
# pulls lazily from 2.1 on) against `ctr-remote image rpull --snapshotter stargz-lazy` (the
# client-side pull of stargz-snapshotter's ctr-remote, v0.12 from Debian), of the same eStargz
# image, into the same snaphost, with containerd's built-in overlayfs (a full pull through the
# transfer service) as the scale. One containerd 2.x (scripts/fetch-containerd2.sh), one local
# registry.
#
#   bash bench/containerd2-pull.sh      (root; installs what is missing and builds, like CI)
#
# Image: the stargz benchmark's (bench/lib/stargz-image.sh: busybox layer + a layer with a 64 MiB
# incompressible file and 5000 small files, `ctr-remote image convert --estargz --oci`).
# containerd's config: `snaphost containerd-config --containerd 2 --fragment` of the snaphost
# config (the stargz-lazy proxy plugin with `enable_remote_snapshot_annotations`, the transfer
# service's unpack entries for overlayfs and stargz-lazy), as a user is told to use it.
# stargz-lazy runs purely on demand (no prefetch, no background fetch), as in bench/stargz-lazy.sh.
# Contenders, alternating within every repetition (order reversed every other one):
#   stargz-lazy-transfer  `ctr images pull --plain-http --snapshotter stargz-lazy`
#   stargz-lazy-rpull     `ctr-remote image rpull --plain-http --snapshotter stargz-lazy`
#   overlayfs-transfer    `ctr images pull --plain-http --snapshotter overlayfs` (full pull)
# Every pull starts from a wiped snapshotter root (caches included) and a wiped containerd
# (content store included), page cache dropped, CPUs mostly idle (bench_wait_quiet). Per pull:
#   pull_s                 wall time of the pull command (until it returns: image pulled + unpacked)
#   run_s                  `ctr run --rm … echo ok` right after the pull, until it printed ok
#   pull_to_output_s       pull_s + run_s
#   pull_blob_gets/bytes   blob GETs the registry answered during the pull and the body bytes it
#                          sent (its access log: bench/lib/stargz-registry.sh)
#   layers_in_content_store  layer blobs containerd holds after the pull (0 when lazy)
#   remote_layers          layers whose snapshot is a remote (lazy) one
#   pull_cpu_containerd / pull_cpu_client / pull_cpu_snapshotter
#                          CPU seconds (user + system) of containerd, of the pulling client (ctr or
#                          ctr-remote, the whole process) and of snaphost + its FUSE process,
#                          during the pull
# Checked once per contender (first repetition, untimed): big.bin and every small file read back
# through a read-only view as built (sha256).
# Output: bench/results/containerd2-pull.tsv (median, min, max), containerd2-pull-ratios.tsv,
# containerd2-pull-raw.tsv, containerd2-pull-machine.txt.
# Env: REPS (5), CONTENDERS ("stargz-lazy-transfer stargz-lazy-rpull overlayfs-transfer"),
#      BENCH_SKIP_INSTALL=1, BENCH_QUIET_IDLE, BENCH_QUIET_TIMEOUT, E2E_KEEP_WORK=1,
#      SBENCH_LAZY_OPTIONS (stargz-lazy's backend options, JSON).
set -uo pipefail
E2E_CONTAINERD=2
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/estargz-images.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/stargz-ref.sh"
. "$BENCH_LIB/stargz-registry.sh"
. "$BENCH_LIB/stargz-image.sh"
. "$BENCH_LIB/stargz-contenders.sh"
# shellcheck disable=SC2034 # read by ctr_ (test/e2e/lib/containerd.sh)
CTR_NAMESPACE=snaphost-bench-c2pull

REPS=${REPS:-5}
CONTENDERS=${CONTENDERS:-"stargz-lazy-transfer stargz-lazy-rpull overlayfs-transfer"}
[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "REPS must be a positive integer" >&2; exit 2; }
for c in $CONTENDERS; do
  [[ $c =~ ^(stargz-lazy-transfer|stargz-lazy-rpull|overlayfs-transfer)$ ]] || { echo "unknown contender: $c" >&2; exit 2; }
done

e2e_require_root
e2e_require_cmds ctr-remote runc docker-registry skopeo umoci jq curl node openssl python3 fusermount flock
bench_init bench-c2pull
W=$E2E_WORK
OUT=$BENCH_RESULTS/containerd2-pull
MNT=$W/mnt/view
bench_machine >"$OUT-machine.txt"
echo "ctr-remote: $(dpkg-query -W -f='${Package} ${Version}' "$(dpkg -S "$(command -v ctr-remote)" 2>/dev/null | cut -d: -f1 | head -n 1)" 2>/dev/null || echo unknown)" >>"$OUT-machine.txt"
printf 'contender\tmetric\trep\tvalue\n' >"$W/raw.tsv"

sbench_registry_start
sbench_contenders_init
# containerd 2.x's view of snaphost: what `snaphost containerd-config --containerd 2 --fragment`
# prints for the benchmark's config (it replaces the hand-written [proxy_plugins] of 1.6).
SBENCH_PROXY_TOML=$W/containerd2-fragment.toml
node "$SNAPHOST_CLI" containerd-config --config "$SBENCH_SNAPHOST_CONFIG" --containerd 2 --fragment >"$SBENCH_PROXY_TOML" ||
  e2e_die "snaphost containerd-config --containerd 2 --fragment failed"
grep -q 'enable_remote_snapshot_annotations = "true"' "$SBENCH_PROXY_TOML" ||
  e2e_die "the fragment has no enable_remote_snapshot_annotations for stargz-lazy: $(tr '\n' ' ' <"$SBENCH_PROXY_TOML")"
sbench_fresh overlayfs
sbench_image_push
IMAGE=$REGISTRY/snaphost-bench/stargz:esgz
mapfile -t LAYERS < <(esgz_layers "$IMAGE")
mapfile -t CHAIN < <(esgz_chain_ids "$IMAGE")
[[ ${#LAYERS[@]} == 2 && ${#CHAIN[@]} == 2 ]] || e2e_die "$IMAGE: expected 2 layers, got ${#LAYERS[@]}"
LAYER_BYTES=0
for l in "${LAYERS[@]}"; do
  read -r _ size _ <<<"$l"
  LAYER_BYTES=$((LAYER_BYTES + size))
done
echo "image: $IMAGE, 2 layers, $LAYER_BYTES compressed bytes (eStargz, 4 MiB chunks)" >>"$OUT-machine.txt"

# ---- helpers ----------------------------------------------------------------------------------
sample() { # contender metric rep value
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$W/raw.tsv"
  e2e_log "rep $3 $1 $2 = $4"
}
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }'; }
snapshotter_of() { echo "${1%-*}"; } # stargz-lazy-rpull -> stargz-lazy
cpu_of() { # PID...: CPU seconds (user + system) so far, summed; 0 for a process that is gone
  local p hz total=0
  hz=$(getconf CLK_TCK)
  for p in "$@"; do
    total=$(awk -v t="$total" -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.2f", t + ($12 + $13) / hz }' "/proc/$p/stat" 2>/dev/null || echo "$total")
  done
  echo "$total"
}
layers_in_store() {
  local have n=0 l
  have=$(ctr_ content ls -q)
  for l in "${LAYERS[@]}"; do grep -qxF "${l%% *}" <<<"$have" && n=$((n + 1)); done
  echo "$n"
}
remote_layers() { # snapshotter: layers whose committed snapshot carries containerd.io/snapshot/remote
  local id n=0
  for id in "${CHAIN[@]}"; do
    ctr_ snapshots --snapshotter "$1" info "$id" 2>/dev/null |
      jq -e '(.Labels["containerd.io/snapshot/remote"] // "") != ""' >/dev/null && n=$((n + 1))
  done
  echo "$n"
}
pull_cmd() { # contender: the pull, as a user would type it
  case $1 in
    stargz-lazy-rpull)
      timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter stargz-lazy "$IMAGE" ;;
    *) timeout 120 "$CTR" --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" images pull --plain-http --snapshotter "$(snapshotter_of "$1")" "$IMAGE" ;;
  esac
}
# `times` (bash) in a subshell that ran only the pull: its children's user and system time
# ("0m0.123s 0m0.045s") -> seconds.
times_children_s() { awk 'NR == 2 { split($0, f, /[ms]+/); printf "%.2f", f[1] * 60 + f[2] + f[3] * 60 + f[4] }'; }
verify() { # contender: every file read back through a read-only view as built (untimed)
  local sn big small out
  sn=$(snapshotter_of "$1")
  out=$(ctr_view_mount "$sn" "bench-view-$$" "${CHAIN[-1]}" "$MNT" 2>&1) || e2e_die "$1: cannot mount a view of $IMAGE: $out"
  big=$(sha256sum <"$MNT/data/big.bin" | cut -d' ' -f1)
  [[ $big == "$SBENCH_BIG_SHA" ]] || e2e_die "$1: big.bin read back with sha256 $big, expected $SBENCH_BIG_SHA"
  small=$(sbench_small_sha "$MNT")
  [[ $small == "$SBENCH_SMALL_SHA" ]] || e2e_die "$1: the small files read back differ from the image's"
  ctr_view_unmount "$sn" "bench-view-$$" "$MNT" || e2e_die "$1: cannot unmount or remove the view"
  e2e_log "$1: big.bin and the 5000 small files read back as built"
}

one_pull() { # contender rep
  local c=$1 i=$2 sn t t1 run mark end c0 s0 c1 s1 cl out rc gets bytes pids=()
  sn=$(snapshotter_of "$c")
  sbench_fresh "$sn"
  # Its processes (snaphost + fused) found now: the /proc scan must not run between pull and run.
  [[ $sn == overlayfs ]] || mapfile -t pids < <(sbench_pids "$sn")
  bench_wait_quiet
  bench_drop_caches
  c0=$(cpu_of "$CONTAINERD_PID")
  s0=$(cpu_of "${pids[@]}")
  mark=$(sbench_registry_mark)
  t=$EPOCHREALTIME
  # In a subshell of its own, whose `times` then counts exactly the pull's processes.
  cl=$( { pull_cmd "$c" >"$W/pull.out" 2>&1; rc=$?; times; exit $rc; } | times_children_s)
  rc=$?
  t1=$(secs_since "$t")
  end=$(sbench_registry_mark)
  c1=$(cpu_of "$CONTAINERD_PID")
  s1=$(cpu_of "${pids[@]}")
  ((rc == 0)) || e2e_die "$c: pull failed (rc $rc): $(tail -n 3 "$W/pull.out" | tr '\n' ' ')"
  # pull-to-output: the pull's time + the `ctr run` right after it (the few ms of bookkeeping
  # in between are not counted).
  t=$EPOCHREALTIME
  out=$(ctr_ run --rm --snapshotter "$sn" "$IMAGE" "bench-run-$$" echo ok 2>&1)
  run=$(secs_since "$t")
  [[ $out == ok ]] || e2e_die "$c: the container printed '$out', expected 'ok'"
  sample "$c" run_s "$i" "$run"
  sample "$c" pull_to_output_s "$i" "$(awk -v a="$t1" -v b="$run" 'BEGIN { printf "%.4f", a + b }')"
  sample "$c" pull_s "$i" "$t1"
  sample "$c" pull_cpu_client "$i" "$cl"
  sample "$c" pull_cpu_containerd "$i" "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')"
  [[ $sn == overlayfs ]] || sample "$c" pull_cpu_snapshotter "$i" "$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')"
  read -r gets bytes < <(sbench_registry_sent "$mark" "$end")
  sample "$c" pull_blob_gets "$i" "$gets"
  sample "$c" pull_blob_bytes "$i" "$bytes"
  sample "$c" layers_in_content_store "$i" "$(layers_in_store)"
  [[ $sn == overlayfs ]] || sample "$c" remote_layers "$i" "$(remote_layers "$sn")"
  ((i == 1)) && verify "$c"
  return 0
}

# ---- the measurement --------------------------------------------------------------------------
read -ra order <<<"$CONTENDERS"
e2e_log "REPS=$REPS, contenders: $CONTENDERS, containerd $("$CONTAINERD_BIN_DIR/containerd" --version | awk '{ print $3 }')"
for ((rep = 1; rep <= REPS; rep++)); do
  list=("${order[@]}")
  if ((rep % 2 == 0)); then
    list=()
    for ((k = ${#order[@]} - 1; k >= 0; k--)); do list+=("${order[k]}"); done
  fi
  for c in "${list[@]}"; do one_pull "$c" "$rep"; done
done
sbench_stop_all
bench_load_at_end >>"$OUT-machine.txt"

# ---- results ----------------------------------------------------------------------------------
cp "$W/raw.tsv" "$OUT-raw.tsv"
bench_summarize "$OUT-raw.tsv" "$OUT.tsv"
awk -F'\t' 'NR > 1 { med[$1 "\t" $2] = $4 }
  END {
    print "pair\tmetric\tmedian_ratio"
    split("stargz-lazy-transfer:stargz-lazy-rpull stargz-lazy-transfer:overlayfs-transfer stargz-lazy-rpull:overlayfs-transfer", pairs, " ")
    split("pull_s run_s pull_to_output_s pull_blob_bytes", metrics, " ")
    for (p = 1; p <= 3; p++) {
      split(pairs[p], ab, ":")
      for (m = 1; m <= 4; m++) {
        a = ab[1] "\t" metrics[m]; b = ab[2] "\t" metrics[m]
        if (!(a in med) || !(b in med) || med[b] == 0) continue
        printf "%s/%s\t%s\t%.3f\n", ab[1], ab[2], metrics[m], med[a] / med[b]
      }
    }
  }' "$OUT.tsv" >"$OUT-ratios.tsv"
column -t -s $'\t' "$OUT.tsv"
echo
column -t -s $'\t' "$OUT-ratios.tsv"
e2e_log "results: $OUT.tsv, $OUT-ratios.tsv"
e2e_pass containerd2-pull-bench
e2e_finish
