#!/usr/bin/env bash
# stargz-lazy at scale (issue 5's benchmarks): memory with many lazily mounted layers, the time
# snaphost needs to come back after SIGKILL with 50 remote snapshots, and cold small-file read
# latency while background fetch runs. One containerd 1.6, one local registry, images built
# offline (bench/lib/stargz-scale-image.sh: 1, 10 and 50 layers of 2000 small files each).
#
#   bash bench/stargz-lazy-scale.sh     (root; installs what is missing and builds, like CI)
#
# Per run (RUNS, default 3), every step from a wiped root (caches included) and a wiped containerd:
#   rss       for N in 1 10 50: rpull the N-layer image (prefetch and background fetch off), wait
#             until N FUSE layers are mounted, then RSS of snaphost and of fused (VmRSS), and
#             the rpull wall time; with RSS_LATE=S, fused's RSS again S seconds later (idle)
#   restart   with the 50-layer image pulled: SIGKILL snaphost, start it again, time until its
#             socket serves and `ctr snapshots --snapshotter stargz-lazy ls` lists the 50 layers
#             (fused keeps serving: the layers stay mounted; checked)
#   restore   the same after SIGKILL of snaphost AND fused (the mounts die with it): time until
#             `ctr snapshots ls` lists them, and until every layer's files read again (up to
#             RESTORE_WAIT s; how many came back is recorded). Needs snaphost's restore at start.
#   latency   rpull the stargz benchmark image (bench/lib/stargz-image.sh: 64 MiB file + 5000
#             small files in one 73 MB layer), then at once read READS of the small files cold
#             straight from the layer's FUSE mount (open + read + close each; p50/p90/p99), with
#             background fetch off (bg_off), on with its defaults but startDelayMs 0 so it runs
#             during the reads (bg_on: it pauses while foreground reads need the registry), and
#             on without that pause (bg_on_noquiet: quietMs 0, the worst case)
# Output: bench/results/stargz-lazy-scale.tsv (median, min, max), -raw.tsv, -machine.txt.
# Env: RUNS (3), READS (400), RESTORE_WAIT (120), RSS_LATE (0), PHASES ("rss restart restore latency"; restart
#      and restore need rss first; results of a subset get a -PHASE-... suffix), SBENCH_LAZY_ENV
#      (extra environment of snaphost and fused, see bench/lib/stargz-contenders.sh; results then
#      get a -env suffix), SCALE_TRANSPORT=kernel|fuse-native (stargz-lazy's `fs.transport`, issue 17; results then get
#      that suffix), BENCH_SKIP_INSTALL=1,
#      BENCH_QUIET_IDLE, BENCH_QUIET_TIMEOUT, E2E_KEEP_WORK=1.
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/estargz-images.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/stargz-ref.sh"
. "$BENCH_LIB/stargz-registry.sh"
. "$BENCH_LIB/stargz-contenders.sh"
. "$BENCH_LIB/stargz-scale-image.sh"
. "$BENCH_LIB/stargz-image.sh"
# shellcheck disable=SC2034 # read by ctr_ (test/e2e/lib/containerd.sh)
CTR_NAMESPACE=snaphost-bench-scale

RUNS=${RUNS:-3}
READS=${READS:-400}
RESTORE_WAIT=${RESTORE_WAIT:-120}
RSS_LATE=${RSS_LATE:-0}
PHASES=${PHASES:-"rss restart restore latency"}
for v in RUNS READS RESTORE_WAIT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$v must be a positive integer" >&2; exit 2; }
done
[[ $RSS_LATE =~ ^[0-9]+$ ]] || { echo "RSS_LATE must be a number of seconds" >&2; exit 2; }
for p in $PHASES; do
  [[ $p =~ ^(rss|restart|restore|latency)$ ]] || { echo "unknown phase: $p" >&2; exit 2; }
done
[[ " $PHASES " != *" rss "* && " $PHASES " =~ " "(restart|restore)" " ]] && { echo "restart and restore need the rss phase" >&2; exit 2; }
phase() { [[ " $PHASES " == *" $1 "* ]]; }

e2e_require_root
e2e_require_cmds containerd ctr ctr-remote docker-registry skopeo umoci jq curl node python3 fusermount flock
bench_init bench-stargz-scale
W=$E2E_WORK
OUT=$BENCH_RESULTS/stargz-lazy-scale
[[ $PHASES == "rss restart restore latency" ]] || OUT+=-${PHASES// /-}
[[ -n ${SBENCH_LAZY_ENV:-} ]] && OUT+=-env
ROOT=$(sbench_root stargz-lazy)
OFF='{"prefetch":{"enabled":false},"backgroundFetch":{"enabled":false}}'
BG_ON='{"prefetch":{"enabled":false},"backgroundFetch":{"enabled":true,"startDelayMs":0}}'
if [[ -n ${SCALE_TRANSPORT:-} ]]; then # issue 17: the same phases on one FUSE transport
  [[ $SCALE_TRANSPORT =~ ^(kernel|fuse-native)$ ]] || e2e_die "SCALE_TRANSPORT must be kernel or fuse-native"
  OFF=$(jq -c --arg t "$SCALE_TRANSPORT" '.fs.transport = $t' <<<"$OFF")
  BG_ON=$(jq -c --arg t "$SCALE_TRANSPORT" '.fs.transport = $t' <<<"$BG_ON")
  OUT+=-$SCALE_TRANSPORT
fi
BG_NOQUIET='{"prefetch":{"enabled":false},"backgroundFetch":{"enabled":true,"startDelayMs":0,"quietMs":0}}'
bench_machine >"$OUT-machine.txt"
printf 'contender\tmetric\trep\tvalue\n' >"$W/raw.tsv"

sbench_registry_start
sbench_contenders_init
sbench_fresh overlayfs
if phase rss; then
  for n in 1 10 50; do sscale_image_push "$n"; done
  echo "images: snaphost-bench/scale-l{1,10,50}:esgz, $SSCALE_FILES files per layer" >>"$OUT-machine.txt"
fi
if phase latency; then
  sbench_image_push
  echo "latency image: snaphost-bench/stargz:esgz (bench/lib/stargz-image.sh)" >>"$OUT-machine.txt"
fi
[[ -n ${SBENCH_LAZY_ENV:-} ]] && echo "snaphost environment: $SBENCH_LAZY_ENV" >>"$OUT-machine.txt"

sample() { # metric rep value
  printf 'stargz-lazy\t%s\t%s\t%s\n' "$1" "$2" "$3" >>"$W/raw.tsv"
  e2e_log "run $2 $1 = $3"
}
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
image() { echo "$REGISTRY/snaphost-bench/scale-l$1:esgz"; }
rpull_ref() { timeout 300 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter stargz-lazy "$1" >/dev/null 2>"$W/rpull.err" || e2e_die "rpull of $1 failed: $(tail -n 3 "$W/rpull.err" | tr '\n' ' ')"; }
rpull() { rpull_ref "$(image "$1")"; }
layer_mounts() { fuse_mounts_below "$ROOT/snapshots"; }
snapshot_count() { ctr_ snapshots --snapshotter stargz-lazy ls 2>/dev/null | awk 'NR > 1' | wc -l; }
fresh() { # options
  sbench_lazy_options "$1"
  sbench_fresh stargz-lazy
}
# How many mounted layers answer: their lNN directory lists (each look bounded by 5 s).
layers_answer() {
  local m ok=0
  for m in $(layer_mounts); do timeout 5 ls "$m" 2>/dev/null | grep '^l[0-9]' >/dev/null && ok=$((ok + 1)); done
  echo "$ok"
}

measure_rss() { # rep
  local i=$1 n t mounts rss fuse
  for n in 1 10 50; do
    fresh "$OFF"
    bench_wait_quiet
    t=$EPOCHREALTIME
    rpull "$n"
    sample "rpull_l${n}_s" "$i" "$(secs_since "$t")"
    mounts=$(layer_mounts | wc -l)
    [[ $mounts == "$n" ]] || e2e_die "after rpull of $n layers, $mounts FUSE layers are mounted"
    sleep 2
    read -r rss fuse < <(sbench_rss stargz-lazy)
    sample "rss_snaphost_l${n}_MiB" "$i" "$(mib "$rss")"
    sample "rss_fused_l${n}_MiB" "$i" "$(mib "$fuse")"
    if ((RSS_LATE > 0)); then
      sleep "$RSS_LATE"
      read -r rss fuse < <(sbench_rss stargz-lazy)
      sample "rss_fused_l${n}_late_MiB" "$i" "$(mib "$fuse")"
    fi
  done
}

# With the 50-layer image pulled (measure_rss leaves it so).
measure_restart() { # rep
  local i=$1 t count mounts
  mounts=$(layer_mounts | wc -l)
  [[ $mounts == 50 ]] || e2e_die "restart: expected 50 mounted layers, found $mounts"
  bench_wait_quiet
  kill -KILL "$SBENCH_LAZY_PID"
  wait "$SBENCH_LAZY_PID" 2>/dev/null
  SBENCH_LAZY_PID=
  t=$EPOCHREALTIME
  sbench_lazy_start
  until count=$(snapshot_count) && ((count >= 50)); do
    (($(awk -v a="$t" -v b="$EPOCHREALTIME" 'BEGIN { print (b - a > 60) }'))) && e2e_die "restart: ctr snapshots ls lists $count snapshots after 60 s"
    sleep 0.05
  done
  sample restart_sigkill_s "$i" "$(secs_since "$t")"
  sample restart_sigkill_layers_answer "$i" "$(layers_answer)"
}

measure_restore() { # rep
  local i=$1 t count fused answered=0 deadline
  fused=$(fused_pids "$ROOT" | head -n 1)
  [[ -n $fused ]] || e2e_die "restore: no FUSE-serving process"
  bench_wait_quiet
  kill -KILL "$SBENCH_LAZY_PID" "$fused"
  wait "$SBENCH_LAZY_PID" 2>/dev/null
  SBENCH_LAZY_PID=
  while kill -0 "$fused" 2>/dev/null; do sleep 0.05; done
  t=$EPOCHREALTIME
  sbench_lazy_start
  until count=$(snapshot_count) && ((count >= 50)); do
    (($(awk -v a="$t" -v b="$EPOCHREALTIME" 'BEGIN { print (b - a > 60) }'))) && e2e_die "restore: ctr snapshots ls lists $count snapshots after 60 s"
    sleep 0.05
  done
  sample restore_ls_s "$i" "$(secs_since "$t")"
  deadline=$((SECONDS + RESTORE_WAIT))
  while ((SECONDS < deadline)); do
    answered=$(layers_answer)
    ((answered >= 50)) && break
    sleep 0.5
  done
  sample restore_layers_answer "$i" "$answered"
  ((answered >= 50)) && sample restore_all_layers_s "$i" "$(secs_since "$t")"
  # whatever is left is removed by the next fresh start
}

measure_latency() { # rep
  local i=$1 mode opts mark out gets bytes m small=
  for mode in bg_off bg_on bg_on_noquiet; do
    case $mode in
      bg_off) opts=$OFF ;;
      bg_on) opts=$BG_ON ;;
      bg_on_noquiet) opts=$BG_NOQUIET ;;
    esac
    fresh "$opts"
    bench_wait_quiet
    bench_drop_caches
    rpull_ref "$REGISTRY/snaphost-bench/stargz:esgz"
    for m in $(layer_mounts); do [[ -d $m/data/small ]] && small=$m/data/small; done
    [[ -n $small ]] || e2e_die "$mode: no mounted layer holds data/small"
    mark=$(sbench_registry_mark)
    out=$(node "$BENCH_LIB/stargz-read-latency.mjs" "$READS" 5000 "$small") || e2e_die "$mode: cold reads failed"
    read -r gets bytes < <(sbench_registry_sent "$mark" "")
    sample "read_${mode}_p50_ms" "$i" "$(jq -r .p50_ms <<<"$out")"
    sample "read_${mode}_p90_ms" "$i" "$(jq -r .p90_ms <<<"$out")"
    sample "read_${mode}_p99_ms" "$i" "$(jq -r .p99_ms <<<"$out")"
    sample "read_${mode}_blob_bytes" "$i" "$bytes"
    sample "read_${mode}_blob_gets" "$i" "$gets"
  done
}

e2e_log "RUNS=$RUNS READS=$READS"
for ((run = 1; run <= RUNS; run++)); do
  phase rss && measure_rss "$run"
  phase restart && measure_restart "$run"
  phase restore && measure_restore "$run"
  phase latency && measure_latency "$run"
done
sbench_stop_all
bench_load_at_end >>"$OUT-machine.txt"
echo "snaphost: $(git -C "$REPO_ROOT" rev-parse --short HEAD) + uncommitted: $(git -C "$REPO_ROOT" status --short -- backends core | wc -l) files" >>"$OUT-machine.txt"
cp "$W/raw.tsv" "$OUT-raw.tsv"
bench_summarize "$OUT-raw.tsv" "$OUT.tsv"
column -t -s $'\t' "$OUT.tsv"
e2e_log "results: $OUT.tsv"
e2e_pass stargz-lazy-scale-bench
e2e_finish
