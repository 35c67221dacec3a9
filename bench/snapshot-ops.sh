#!/usr/bin/env bash
# Snapshot operation latency through the Snapshots gRPC API: snaphost's `overlayfs-native`
# against containerd's own overlay snapshotter served over the same API (the conformance
# harness's ref-server), with the SAME client (bench/lib/op-latency.mjs, grpc-js) for both.
#
#   bash bench/snapshot-ops.sh          (root; installs what is missing and builds, like CI)
#
# Contenders (each on its own unix socket; one snaphost process hosts the snaphost ones):
#   ref-overlayfs          containerd overlay, asynchronous remove (what containerd 1.6 uses)
#   overlayfs-native       snaphost, asyncRemove: true (its default, same as containerd)
#   ref-overlayfs-sync     containerd overlay, directories removed in Remove
#   overlayfs-native-sync  snaphost, asyncRemove: false
#   memory                 snaphost's tmpfs backend (for comparison; no target)
# Per repetition every contender in turn (order reversed every other repetition): warm-up
# cycles, then ITERATIONS timed cycles of prepare(on a committed parent) + mounts + commit +
# remove, and a stat after each cycle; Cleanup between repetitions (untimed).
# Then (BREAKDOWN=1, default) the same cycle in-process, without gRPC, layer by layer
# (bench/lib/op-breakdown.mjs: store transactions alone, LMDB alone, directories alone, the
# whole OverlaySnapshotter), to split an op's latency into its parts.
# Target: overlayfs-native within 1.3x of ref-overlayfs (per-op median).
# Output: bench/results/snapshot-ops.tsv (per contender and op: median, p95, min-max of the
# per-repetition medians, in microseconds), snapshot-ops-ratios.tsv,
# snapshot-ops-breakdown.tsv (in-process layers), raw samples in
# snapshot-ops-raw.tsv.gz, machine facts in snapshot-ops-machine.txt.
# Env: REPS (5), ITERATIONS (300), WARMUP (50), CONTENDERS (all of the above), BREAKDOWN (1),
#      BENCH_PROFILE=1 (run snaphost under `node --cpu-prof`; results get a -profiled suffix
#      and the hottest functions go to snapshot-ops-profile.txt), BENCH_SKIP_INSTALL=1,
#      BEFORE_ROOT=DIR: another built checkout of snaphost (e.g. the commit before a change) served
#      by a second snaphost process (DIR/dist/core/cli/snaphost.js, or dist/core/cli.js of a build before issue 14) as contenders NAME@before (any snaphost
#      contender above; default: overlayfs-native@before and memory@before, each next to NAME),
#      in the same alternation; snapshot-ops-before.tsv then compares NAME with NAME@before per
#      op (bench/lib/before-after.mjs: worse = more than 5 % slower).
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"

REPS=${REPS:-5}
ITERATIONS=${ITERATIONS:-300}
WARMUP=${WARMUP:-50}
DEFAULT_CONTENDERS="ref-overlayfs overlayfs-native ref-overlayfs-sync overlayfs-native-sync memory"
[[ -n ${BEFORE_ROOT:-} ]] && DEFAULT_CONTENDERS="ref-overlayfs overlayfs-native overlayfs-native@before ref-overlayfs-sync overlayfs-native-sync memory memory@before"
CONTENDERS=${CONTENDERS:-$DEFAULT_CONTENDERS}
SUFFIX=
[[ ${BENCH_PROFILE:-0} == 1 ]] && SUFFIX=-profiled

bench_init bench-ops
e2e_require_cmds node go
W=$E2E_WORK
OUT=$BENCH_RESULTS/snapshot-ops$SUFFIX
bench_machine >"$OUT-machine.txt"
[[ -n ${BEFORE_ROOT:-} ]] && bench_before_machine >>"$OUT-machine.txt"

# snaphost backends of the contender list -> one JSON config (NAME@before: the second one's)
entries=()
before_entries=()
for c in $CONTENDERS; do
  base=${c%@before}
  case $base in
    overlayfs-native) e="{\"use\":\"overlayfs-native\",\"name\":\"$base\",\"options\":{\"asyncRemove\":true}}" ;;
    overlayfs-native-sync) e="{\"use\":\"overlayfs-native\",\"name\":\"$base\",\"options\":{\"asyncRemove\":false}}" ;;
    memory) e="{\"use\":\"memory\",\"name\":\"$base\",\"options\":{\"size\":\"2g\"}}" ;;
    ref-overlayfs | ref-overlayfs-sync) [[ $c == "$base" ]] && continue ;&
    *) e2e_die "unknown contender: $c" ;;
  esac
  if [[ $c == "$base" ]]; then
    entries+=("$e")
  else
    [[ -n ${BEFORE_ROOT:-} ]] || e2e_die "$c: set BEFORE_ROOT to the checkout to measure as @before"
    before_entries+=("$e")
  fi
done
socket_of() { if [[ $1 == *@before ]]; then echo "$W/sockets-before/${1%@before}.sock"; else echo "$W/sockets/$1.sock"; fi; }

targets=()
pids=()
if [[ ${#entries[@]} -gt 0 ]]; then
  (IFS=,; printf '{"socketDir":"%s","rootDir":"%s","backends":[%s]}\n' "$W/sockets" "$W/state" "${entries[*]}") >"$W/plugins.config.json"
  profile_dir=
  [[ ${BENCH_PROFILE:-0} == 1 ]] && profile_dir=$W/profile
  bench_snaphost_start snaphost "$profile_dir" --config "$W/plugins.config.json" --log-level info
  SNAPHOST=$BENCH_PID
fi
if [[ ${#before_entries[@]} -gt 0 ]]; then
  (IFS=,; printf '{"socketDir":"%s","rootDir":"%s","backends":[%s]}\n' "$W/sockets-before" "$W/state-before" "${before_entries[*]}") >"$W/plugins-before.config.json"
  profile_dir=
  [[ ${BENCH_PROFILE:-0} == 1 ]] && profile_dir=$W/profile-before
  SNAPHOST_CLI=$BEFORE_CLI bench_snaphost_start snaphost-before "$profile_dir" --config "$W/plugins-before.config.json" --log-level info
  SNAPHOST_BEFORE=$BENCH_PID
fi
for c in $CONTENDERS; do
  case $c in
    ref-overlayfs) bench_ref_server_start "$c" "$W/$c" "$W/sockets/$c.sock" --async-remove ;;
    ref-overlayfs-sync) bench_ref_server_start "$c" "$W/$c" "$W/sockets/$c.sock" ;;
    *@before) BENCH_PID=$SNAPHOST_BEFORE ;;
    *) BENCH_PID=$SNAPHOST ;;
  esac
  targets+=(--target "$c=$(socket_of "$c")")
  pids+=("$BENCH_PID")
done
i=0
for c in $CONTENDERS; do
  bench_wait_socket "$(socket_of "$c")" "${pids[$i]}"
  i=$((i + 1))
done

e2e_log "op latency: REPS=$REPS ITERATIONS=$ITERATIONS WARMUP=$WARMUP contenders: $CONTENDERS"
node "$BENCH_LIB/op-latency.mjs" "${targets[@]}" --reps "$REPS" --iterations "$ITERATIONS" --warmup "$WARMUP" \
  --quiet-idle "${BENCH_QUIET_IDLE:-0.85}" \
  --raw "$W/raw.tsv" --summary "$OUT.tsv" >/dev/null || e2e_die "op-latency.mjs failed"
if [[ ${BREAKDOWN:-1} == 1 ]]; then
  e2e_log "in-process breakdown (bench/lib/op-breakdown.mjs)"
  node "$BENCH_LIB/op-breakdown.mjs" --dir "$W/breakdown" --reps "$REPS" --iterations "$ITERATIONS" --warmup "$WARMUP" \
    --summary "$OUT-breakdown.tsv" >/dev/null || e2e_die "op-breakdown.mjs failed"
fi
bench_load_at_end >>"$OUT-machine.txt"
gzip -9 -c "$W/raw.tsv" >"$OUT-raw.tsv.gz"

# overlayfs-native / ref-overlayfs (and the -sync pair): ratio of the medians and of the p95s
awk -F'\t' 'NR > 1 { med[$1 "\t" $2] = $4; p95[$1 "\t" $2] = $5; ops[$2] = 1 }
  END {
    print "pair\top\tmedian_ratio\tp95_ratio\tmeets_1.3x"
    split("overlayfs-native:ref-overlayfs overlayfs-native-sync:ref-overlayfs-sync", pairs, " ")
    split("prepare mounts commit remove cycle stat", order, " ")
    for (p = 1; p <= 2; p++) {
      split(pairs[p], ab, ":")
      for (o = 1; o <= 6; o++) {
        a = ab[1] "\t" order[o]; b = ab[2] "\t" order[o]
        if (!(a in med) || !(b in med)) continue
        r = med[a] / med[b]
        printf "%s/%s\t%s\t%.2f\t%.2f\t%s\n", ab[1], ab[2], order[o], r, p95[a] / p95[b], (r <= 1.3) ? "yes" : "no"
      }
    }
  }' "$OUT.tsv" >"$OUT-ratios.tsv"

column -t -s $'\t' "$OUT.tsv"
echo
column -t -s $'\t' "$OUT-ratios.tsv"
if [[ ${#before_entries[@]} -gt 0 ]]; then
  node "$BENCH_LIB/before-after.mjs" "$OUT.tsv" >"$OUT-before.tsv" || e2e_die "before-after.mjs failed"
  echo
  column -t -s $'\t' "$OUT-before.tsv"
fi

if [[ ${BENCH_PROFILE:-0} == 1 && -n ${SNAPHOST:-} ]]; then
  bench_stop "$SNAPHOST"
  node "$BENCH_LIB/cpuprofile-top.mjs" "$W"/profile/*.cpuprofile --top 30 --root "$REPO_ROOT" --since core/grpc/snapshots-service >"$BENCH_RESULTS/snapshot-ops-profile.txt" ||
    e2e_die "cannot read the CPU profiles in $W/profile"
  e2e_log "hottest functions: $BENCH_RESULTS/snapshot-ops-profile.txt"
fi
e2e_log "results: $OUT.tsv, $OUT-ratios.tsv"
