#!/usr/bin/env bash
# Time to ready, side by side in one run: from the start of a pull to the application's ready
# line, for snaphost's `stargz-lazy`, the Go stargz-snapshotter (v0.12, built offline:
# test/e2e/lib/stargz-ref.sh) and containerd's built-in overlayfs (a full pull); one containerd
# 1.6, one local registry. The method is bench/stargz-lazy.sh's.
#
#   bash bench/time-to-ready.sh        (root; installs what is missing and builds, like CI)
#
# Images (bench/lib/ttr-images.sh, built offline from the Debian mirror and this checkout, cached):
#   py        Debian 12 + python3.11; the entrypoint imports 148 standard-library modules, prints `ready`
#   node      Debian 12 + snaphost's Node.js runtime + a copy of this repository's node_modules; the
#             entrypoint requires every package of it that loads in plain Node, prints `ready`
#             (both converted with `ctr-remote image convert --estargz --oci`: no prefetch landmark,
#             so nothing is prefetched)
#   py-opt, node-opt  the same converted with `ctr-remote image optimize --oci`: the files the
#             entrypoint read are before each layer's .prefetch.landmark and are prefetched
# Both lazy snapshotters run with their defaults (bench/lib/ttr-contenders.sh): prefetch on;
# background fetch on (stargz-lazy starts it 30 s after a mount, i.e. after the window measured
# here; the Go reference starts it at the mount, paused while a prioritized task runs).
# Per run, image and contender (contenders alternate, order reversed every other run), from
# wiped snapshotter roots (caches included) and a wiped containerd (content store included),
# page cache dropped, CPUs quiet:
#   cold_pull_s    `ctr-remote image rpull --plain-http` (lazy) or `ctr image pull` (overlayfs)
#   cold_run_s     then `ctr run --rm IMAGE`, up to the ready line on its stdout
#   cold_s         the two together: pull start to ready
#   warm_s         right after, a second `ctr run --rm` of the image on the same node, up to ready
#   *_blob_gets / *_blob_bytes   blob GETs and bytes the registry sent in pull, run, warm
#   rss_daemon_MiB, rss_fused_MiB   resident memory of the snapshotter processes at the end
# Targets (issue 16): stargz-lazy <= 0.9x the Go peer (cold_s and warm_s, every image);
# stargz-lazy <= 0.5x overlayfs (cold_s, py and node).
# Output: bench/results/time-to-ready.tsv (median, min, max), time-to-ready-targets.tsv,
# time-to-ready-raw.tsv, time-to-ready-machine.txt, time-to-ready-steps.tsv (each step's wall-clock
# marks, epoch seconds: the windows to give bench/lib/ttr-timeline.mjs and cpuprofile-timeline.mjs);
# with BEFORE_ROOT also time-to-ready-before.tsv.
# Env: RUNS (5), CONTENDERS ("stargz-lazy stargz-go overlayfs"), IMAGES ("py node py-opt node-opt";
#      overlayfs runs py and node only), BENCH_PROFILE=1 (snaphost and fused CPU-profiled:
#      results get a -profiled suffix; bench/lib/cpuprofile-top.mjs of fused into
#      time-to-ready-profile.txt), SBENCH_LAZY_LOG_LEVEL=trace (fused logs every FUSE op and
#      fetch, for bench/lib/ttr-timeline.mjs), SBENCH_LAZY_OPTIONS (stargz-lazy's options, JSON),
#      BENCH_SKIP_INSTALL=1, BENCH_QUIET_IDLE, BENCH_QUIET_TIMEOUT, E2E_KEEP_WORK=1,
#      BEFORE_ROOT=DIR: another built checkout of snaphost (e.g. main before a change) measured as
#      contender stargz-lazy@before, the same way and with the same defaults, on its own socket and
#      root (default contenders then "stargz-lazy stargz-lazy@before stargz-go overlayfs");
#      stargz-lazy@kernel, stargz-lazy@fuse-native: the same build with `fs.transport` set
#      (issue 17), each on its own socket and root;
#      time-to-ready-before.tsv compares stargz-lazy with it per metric (bench/lib/before-after.mjs:
#      worse = more than 5 % worse), and the targets name the ratios to it.
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/estargz-images.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/stargz-ref.sh"
. "$REPO_ROOT/scripts/lib/node-runtime.sh"
. "$BENCH_LIB/stargz-registry.sh"
. "$BENCH_LIB/stargz-go-deps.sh"
. "$BENCH_LIB/stargz-contenders.sh"
. "$BENCH_LIB/ttr-contenders.sh"
. "$BENCH_LIB/ttr-images.sh"
# shellcheck disable=SC2034 # read by ctr_ (test/e2e/lib/containerd.sh)
CTR_NAMESPACE=snaphost-bench-ttr

RUNS=${RUNS:-5}
CONTENDERS=${CONTENDERS:-"stargz-lazy ${BEFORE_ROOT:+stargz-lazy@before }stargz-go overlayfs"}
IMAGES=${IMAGES:-"py node py-opt node-opt"}
SUFFIX=
[[ ${BENCH_PROFILE:-0} == 1 ]] && SUFFIX=-profiled
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive integer" >&2; exit 2; }
for c in $CONTENDERS; do
  [[ $c =~ ^(stargz-lazy|stargz-lazy@kernel|stargz-lazy@fuse-native|stargz-go|overlayfs)$ || ($c == stargz-lazy@before && -n ${BEFORE_ROOT:-}) ]] ||
    { echo "unknown contender: $c (stargz-lazy@before needs BEFORE_ROOT)" >&2; exit 2; }
done
for i in $IMAGES; do
  [[ $i =~ ^(py|node|py-opt|node-opt)$ ]] || { echo "unknown image: $i (py node py-opt node-opt)" >&2; exit 2; }
done

e2e_require_root
[[ " $CONTENDERS " != *" stargz-go "* ]] || sbench_go_deps || exit 1
e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node go python3 fusermount flock apt-get dpkg-deb chroot
bench_init bench-ttr
W=$E2E_WORK
OUT=$BENCH_RESULTS/time-to-ready$SUFFIX
STARTED=$EPOCHSECONDS
bench_machine >"$OUT-machine.txt"
[[ -n ${BEFORE_ROOT:-} ]] && bench_before_machine >>"$OUT-machine.txt"
printf 'contender\tmetric\trep\tvalue\n' >"$W/raw.tsv"
printf 'contender\timage\trep\tpull_start\tpull_end\tcold_ready\twarm_start\twarm_ready\n' >"$W/steps.tsv"

sbench_registry_start
ttr_contenders_init
[[ " $CONTENDERS " == *" stargz-go "* ]] && stargz_ref_build
sbench_fresh overlayfs
ttr_images_push >>"$OUT-machine.txt"
echo "go reference: $(dpkg-query -W -f='stargz-snapshotter ${Version}' golang-github-containerd-stargz-snapshotter-dev), $(go version | cut -d' ' -f3)" >>"$OUT-machine.txt"

image_ref() { # py | node | py-opt | node-opt
  local name=ttr-python tag=esgz
  [[ $1 == node* ]] && name=ttr-node
  [[ $1 == *-opt ]] && tag=opt
  echo "$REGISTRY/snaphost-bench/$name:$tag"
}

# ---- helpers ----------------------------------------------------------------------------------
sample() { # contender metric rep value
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$W/raw.tsv"
  e2e_log "run $3 $1 $2 = $4"
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
cold() { bench_wait_quiet; bench_drop_caches; }
sent() { # contender rep metric-prefix mark [end-mark]
  local gets bytes
  read -r gets bytes < <(sbench_registry_sent "$4" "${5:-}")
  sample "$1" "${3}_blob_gets" "$2" "$gets"
  sample "$1" "${3}_blob_bytes" "$2" "$bytes"
}
pull() { # contender ref
  if [[ $1 == overlayfs ]]; then
    ctr_ images pull --plain-http --snapshotter overlayfs "$2" >/dev/null 2>"$W/pull.err"
  else
    timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter "$1" "$2" >/dev/null 2>"$W/pull.err"
  fi || e2e_die "$1: pull of $2 failed: $(tail -n 3 "$W/pull.err" | tr '\n' ' ')"
}
ready_at() { # contender ref id: runs the image's entrypoint; prints $EPOCHREALTIME at its ready line
  local at
  at=$(ctr_ run --rm --snapshotter "$1" "$2" "$3" 2>"$W/run.err" | while IFS= read -r line; do
    [[ $line == ready* ]] && echo "$EPOCHREALTIME"
  done)
  [[ -n $at ]] || { e2e_log "$1: $2 printed no ready line: $(tail -n 3 "$W/run.err" | tr '\n' ' ')"; return 1; }
  echo "$at"
}

step() { # contender image rep
  local c=$1 img=$2 i=$3 ref t0 t1 t2 t3 t4 m0 m1 m2 m3 rss fuse
  ref=$(image_ref "$img")
  sbench_fresh "$c"
  cold
  m0=$(sbench_registry_mark)
  t0=$EPOCHREALTIME
  pull "$c" "$ref"
  t1=$EPOCHREALTIME
  m1=$(sbench_registry_mark)
  t2=$(ready_at "$c" "$ref" "ttr-cold-$$") || e2e_die "$c: cold run of $img failed"
  m2=$(sleep 0.2; sbench_registry_mark)
  sample "$c" "$img.cold_s" "$i" "$(secs "$t0" "$t2")"
  sample "$c" "$img.cold_pull_s" "$i" "$(secs "$t0" "$t1")"
  sample "$c" "$img.cold_run_s" "$i" "$(secs "$t1" "$t2")"
  t3=$EPOCHREALTIME
  t4=$(ready_at "$c" "$ref" "ttr-warm-$$") || e2e_die "$c: warm run of $img failed"
  sample "$c" "$img.warm_s" "$i" "$(secs "$t3" "$t4")"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$img" "$i" "$t0" "$t1" "$t2" "$t3" "$t4" >>"$W/steps.tsv"
  m3=$(sleep 0.2; sbench_registry_mark)
  sent "$c" "$i" "$img.pull" "$m0" "$m1"
  sent "$c" "$i" "$img.run" "$m1" "$m2"
  sent "$c" "$i" "$img.warm" "$m2" "$m3"
  [[ $c == overlayfs ]] && return 0
  read -r rss fuse < <(sbench_rss "$c")
  sample "$c" "$img.rss_daemon_MiB" "$i" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
  [[ $c == stargz-lazy* ]] && sample "$c" "$img.rss_fused_MiB" "$i" "$(awk -v k="$fuse" 'BEGIN { printf "%.1f", k / 1024 }')"
  sample "$c" "$img.rss_total_MiB" "$i" "$(awk -v k="$rss" -v f="$fuse" 'BEGIN { printf "%.1f", (k + f) / 1024 }')"
}

# ---- the measurement --------------------------------------------------------------------------
read -ra order <<<"$CONTENDERS"
e2e_log "RUNS=$RUNS, contenders: $CONTENDERS, images: $IMAGES"
for ((run = 1; run <= RUNS; run++)); do
  list=("${order[@]}")
  if ((run % 2 == 0)); then
    list=()
    for ((k = ${#order[@]} - 1; k >= 0; k--)); do list+=("${order[k]}"); done
  fi
  for img in $IMAGES; do
    for c in "${list[@]}"; do
      [[ $c == overlayfs && $img == *-opt ]] && continue # a full pull does not use the landmark
      step "$c" "$img" "$run"
    done
  done
done
sbench_stop_all
bench_load_at_end >>"$OUT-machine.txt"
echo "wall time of the run: $((EPOCHSECONDS - STARTED)) s (RUNS=$RUNS)" >>"$OUT-machine.txt"

# ---- results ----------------------------------------------------------------------------------
cp "$W/raw.tsv" "$OUT-raw.tsv"
cp "$W/steps.tsv" "$OUT-steps.tsv"
bench_summarize "$OUT-raw.tsv" "$OUT.tsv"
node "$BENCH_LIB/ttr-targets.mjs" "$OUT.tsv" >"$OUT-targets.tsv" || e2e_die "cannot compute the targets from $OUT.tsv"
column -t -s $'\t' "$OUT.tsv"
echo
column -t -s $'\t' "$OUT-targets.tsv"
if [[ " $CONTENDERS " == *" stargz-lazy@before "* ]]; then
  node "$BENCH_LIB/before-after.mjs" "$OUT.tsv" >"$OUT-before.tsv" || e2e_die "cannot compare with stargz-lazy@before"
  echo
  column -t -s $'\t' "$OUT-before.tsv"
fi
if [[ ${BENCH_PROFILE:-0} == 1 ]]; then
  mapfile -t profiles < <(ls "$W"/profile/main.*.cpuprofile 2>/dev/null)
  if [[ ${#profiles[@]} -gt 0 ]]; then
    node "$BENCH_LIB/cpuprofile-top.mjs" "${profiles[@]}" --top 30 --root "$REPO_ROOT" >"$OUT-profile.txt" ||
      e2e_die "cannot read the CPU profiles in $W/profile"
    e2e_log "hottest functions of fused: $OUT-profile.txt"
  fi
fi
e2e_log "results: $OUT.tsv, $OUT-targets.tsv ($((EPOCHSECONDS - STARTED)) s)"
e2e_pass time-to-ready-bench
e2e_finish
