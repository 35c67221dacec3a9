#!/usr/bin/env bash
# 10,000 committed snapshots in one snapshotter: time to create them, time to List them all,
# and the server's memory (VmRSS / VmHWM from /proc/PID/status) before and after.
#
#   bash bench/many-snapshots.sh        (root; installs what is missing and builds, like CI)
#
# Contenders, one after the other, each in a fresh server process with an empty root:
#   overlayfs-native   snaphost serving only overlayfs-native (LMDB metadata, disk directories)
#   memory             snaphost serving only memory (in-memory metadata, tmpfs)
#   ref-overlayfs      containerd's overlay snapshotter behind the same gRPC API (bbolt); Go,
#                      so its memory is a reference point, not a target
# The client (bench/lib/many-snapshots.mjs) creates COUNT committed snapshots sequentially as
# chains of 10 (prepare + commit each), lists everything LIST_REPS times, then removes all.
# Output: bench/results/many-snapshots.tsv (median, min, max per contender and metric),
# many-snapshots-raw.tsv, many-snapshots-machine.txt.
# Env: COUNT (10000), LIST_REPS (5), CONTENDERS ("overlayfs-native memory ref-overlayfs"),
#      BENCH_PROFILE=1 (snaphost under `node --cpu-prof`; results get a -profiled suffix, the
#      hottest functions go to many-snapshots-profile-<contender>.txt), BENCH_SKIP_INSTALL=1.
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"

COUNT=${COUNT:-10000}
LIST_REPS=${LIST_REPS:-5}
CONTENDERS=${CONTENDERS:-"overlayfs-native memory ref-overlayfs"}
SUFFIX=
[[ ${BENCH_PROFILE:-0} == 1 ]] && SUFFIX=-profiled

bench_init bench-many
e2e_require_cmds node go
W=$E2E_WORK
OUT=$BENCH_RESULTS/many-snapshots$SUFFIX
bench_machine >"$OUT-machine.txt"
printf 'contender\tmetric\trep\tvalue\n' >"$W/raw.tsv"
: >"$W/samples.tsv"

for c in $CONTENDERS; do
  sock=$W/sockets/$c.sock
  profile_dir=
  case $c in
    overlayfs-native | memory)
      [[ ${BENCH_PROFILE:-0} == 1 ]] && profile_dir=$W/profile-$c
      opts=()
      [[ $c == memory ]] && opts=(--option size=2g)
      bench_snaphost_start "$c" "$profile_dir" --backend "$c" --root "$W/$c" --socket "$sock" "${opts[@]}" --log-level info
      ;;
    ref-overlayfs) bench_ref_server_start "$c" "$W/$c" "$sock" --async-remove ;;
    *) e2e_die "unknown contender: $c" ;;
  esac
  pid=$BENCH_PID
  bench_wait_socket "$sock" "$pid"
  e2e_log "$c: $COUNT snapshots, List x$LIST_REPS"
  node "$BENCH_LIB/many-snapshots.mjs" --name "$c" --socket "$sock" --pid "$pid" --count "$COUNT" \
    --list-reps "$LIST_REPS" --quiet-idle "${BENCH_QUIET_IDLE:-0.85}" --out "$W/samples.tsv" || e2e_die "many-snapshots.mjs failed on $c"
  bench_stop "$pid"
  if [[ -n $profile_dir ]]; then
    node "$BENCH_LIB/cpuprofile-top.mjs" "$profile_dir"/*.cpuprofile --top 30 --root "$REPO_ROOT" \
      --since core/grpc/snapshots-service >"$BENCH_RESULTS/many-snapshots-profile-$c.txt" ||
      e2e_die "cannot read the CPU profiles in $profile_dir"
  fi
  e2e_unmount_below "$W/$c"
  rm -rf "${W:?}/$c"
done

bench_load_at_end >>"$OUT-machine.txt"
# samples.tsv: contender, metric, value (list_s once per repetition) -> raw with a rep column
awk -F'\t' '{ n = ++seen[$1 "\t" $2]; printf "%s\t%s\t%d\t%s\n", $1, $2, n, $3 }' "$W/samples.tsv" >>"$W/raw.tsv"
cp "$W/raw.tsv" "$OUT-raw.tsv"
bench_summarize "$OUT-raw.tsv" "$OUT.tsv"
column -t -s $'\t' "$OUT.tsv"
e2e_log "results: $OUT.tsv"
