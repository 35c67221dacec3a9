#!/usr/bin/env bash
# Lazy pulling, side by side in one run: snaphost's `stargz-lazy` against the Go stargz-snapshotter
# (v0.12, built offline from Debian's sources: test/e2e/lib/stargz-ref.sh), with containerd's
# built-in overlayfs (a full pull) as the baseline; one containerd 1.6, one local registry, one
# image. The method is the reference benchmark's (../shared/refpeers/stargz/README.md, beside the clone).
#
#   bash bench/stargz-lazy.sh           (root; installs what is missing and builds, like CI)
#
# Image (bench/lib/stargz-image.sh, built offline, cached): busybox layer + a layer with a 64 MiB
# incompressible file and 5000 small files, converted with `ctr-remote image convert --estargz
# --oci` (4 MiB chunks). Both lazy snapshotters run purely on demand (no prefetch, no background
# fetch). Every step starts from wiped snapshotter roots (caches included) and a wiped containerd
# (content store included); the page cache is dropped before every cold step and the script waits
# until the CPUs are mostly idle before every timed step. Contenders alternate within each run,
# order reversed every other run. Per run and contender:
#   A  rpull           `ctr-remote image rpull --plain-http` wall time, blob GETs + bytes the
#                      registry sent (its access log), layer blobs left in containerd's content store
#      rpull_late      stargz-lazy only: the same with `startFusedAtOpen: false`, i.e. the FUSE-serving
#                      process started inside the first remote prepare (the behaviour before it was
#                      started at open): what that start-up costs a pull
#      rpull_snapshotter_span_s / _busy_s  (a fresh rpull of its own, containerd reaching the
#                      snapshotter through bench/lib/grpc-timing-proxy.mjs): the snapshotter's own
#                      share, from the first Prepare reaching its socket to the last answer, and the
#                      time with at least one of its calls open
#      pull-to-output  rpull, then `ctr run --rm … echo ok`: from the start of rpull to "ok"
#      find            `find /data/small | wc -l` on a read-only view, cold then warm (+ bytes sent)
#      ttfb            open + read(1) of /data/big.bin, cold (+ bytes sent)
#   B  (fresh again, rpull untimed) sequential read of big.bin in 1 MiB reads: cold (empty
#      snapshotter cache, + GETs, bytes and the snapshotter processes' CPU seconds), warm
#      (snapshotter cache populated, page cache dropped), hot (page cache); every small file read
#      and checked (sha256; cold, timed, + bytes sent) and big.bin checked; resident memory of the
#      daemon and of the FUSE-serving process; then the image removed (GC removes every snapshot)
#      and rpulled again by the running daemon (rpull_again: FUSE process up, caches as they are)
#   overlayfs: `ctr image pull` of the same :esgz image (full download + unpack) and pull-to-output,
#      then ttfb, sequential read, find and (first run) the small files on its view, cold (the
#      local-disk reference)
# Targets (issue 4): rpull <= 0.1x overlayfs pull and no slower than the Go peer; cold reads at
# least as fast as the Go peer; warm reads >= 0.5x overlayfs (cold, i.e. from local disk).
# Output: bench/results/stargz-lazy.tsv (median, min, max), stargz-lazy-targets.tsv,
# stargz-lazy-raw.tsv, stargz-lazy-machine.txt; the report section is docs/benchmarks.md, written by hand
# from them.
# Env: RUNS (5), CONTENDERS ("stargz-lazy stargz-go overlayfs"), BENCH_PROFILE=1 (snaphost and
#      fused CPU-profiled: results get a -profiled suffix, the hottest functions of fused go to
#      stargz-lazy-profile.txt, of snaphost to stargz-lazy-profile-snaphost.txt), BENCH_SKIP_INSTALL=1, BENCH_QUIET_IDLE,
#      BENCH_QUIET_TIMEOUT, E2E_KEEP_WORK=1, BEFORE_ROOT=DIR: another built checkout of snaphost
#      (e.g. the commit before a change) measured as contender stargz-lazy@before, the same way
#      (default contenders then "stargz-lazy stargz-lazy@before stargz-go overlayfs");
#      stargz-lazy-before.tsv compares stargz-lazy with it per metric (bench/lib/before-after.mjs:
#      worse = more than 5 % worse). Contenders stargz-lazy@kernel and stargz-lazy@fuse-native: the
#      same build with `fs.transport` set (issue 17), e.g.
#      CONTENDERS="stargz-lazy@kernel stargz-lazy@fuse-native stargz-go overlayfs";
#      stargz-lazy-transports.tsv then checks issue 17's targets (bench/lib/transport-targets.mjs).
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
. "$BENCH_LIB/stargz-go-deps.sh"
. "$BENCH_LIB/stargz-contenders.sh"
# shellcheck disable=SC2034 # read by ctr_ (test/e2e/lib/containerd.sh)
CTR_NAMESPACE=snaphost-bench-stargz

RUNS=${RUNS:-5}
CONTENDERS=${CONTENDERS:-"stargz-lazy ${BEFORE_ROOT:+stargz-lazy@before }stargz-go overlayfs"}
SUFFIX=
[[ ${BENCH_PROFILE:-0} == 1 ]] && SUFFIX=-profiled
# FORMAT=zstdchunked: the same method on the image's `ctr-remote image convert --zstdchunked --oci`.
FORMAT=${FORMAT:-estargz}
[[ $FORMAT =~ ^(estargz|zstdchunked)$ ]] || { echo "FORMAT must be estargz or zstdchunked" >&2; exit 2; }
[[ $FORMAT == zstdchunked ]] && SUFFIX+=-zstdchunked
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive integer" >&2; exit 2; }
for c in $CONTENDERS; do
  [[ $c =~ ^(stargz-lazy|stargz-lazy@kernel|stargz-lazy@fuse-native|stargz-go|overlayfs)$ || ($c == stargz-lazy@before && -n ${BEFORE_ROOT:-}) ]] ||
    { echo "unknown contender: $c (stargz-lazy@before needs BEFORE_ROOT)" >&2; exit 2; }
done

e2e_require_root
[[ " $CONTENDERS " != *" stargz-go "* ]] || sbench_go_deps || exit 1 # the Go reference's build needs them
e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node go openssl python3 fusermount flock
bench_init bench-stargz
W=$E2E_WORK
OUT=$BENCH_RESULTS/stargz-lazy$SUFFIX
MNT=$W/mnt/view
bench_machine >"$OUT-machine.txt"
[[ -n ${BEFORE_ROOT:-} ]] && bench_before_machine >>"$OUT-machine.txt"
printf 'contender\tmetric\trep\tvalue\n' >"$W/raw.tsv"

sbench_registry_start
sbench_contenders_init
e2e_on_exit share_stop
[[ " $CONTENDERS " == *" stargz-go "* ]] && stargz_ref_build
sbench_fresh overlayfs
sbench_image_push
IMAGE=$REGISTRY/snaphost-bench/stargz:esgz
if [[ $FORMAT == zstdchunked ]]; then
  ESGZ_CONVERT=--zstdchunked esgz_push "$SBENCH_OCI" "$SBENCH_TAG" snaphost-bench/stargz zstdchunked
  IMAGE=$REGISTRY/snaphost-bench/stargz:zstdchunked
fi
mapfile -t LAYERS < <(esgz_layers "$IMAGE")
mapfile -t CHAIN < <(esgz_chain_ids "$IMAGE")
[[ ${#LAYERS[@]} == 2 && ${#CHAIN[@]} == 2 ]] || e2e_die "$IMAGE: expected 2 layers, got ${#LAYERS[@]}"
LAYER_BYTES=0
for l in "${LAYERS[@]}"; do
  read -r _ size toc <<<"$l"
  [[ $toc == sha256:* ]] || e2e_die "$IMAGE: a layer has no containerd.io/snapshot/stargz/toc.digest annotation"
  LAYER_BYTES=$((LAYER_BYTES + size))
done
e2e_log "image $IMAGE: layers ${LAYERS[*]}"
echo "image: $IMAGE, 2 layers, $LAYER_BYTES compressed bytes ($FORMAT, 4 MiB chunks)" >>"$OUT-machine.txt"
echo "go reference: $(dpkg-query -W -f='stargz-snapshotter ${Version}' golang-github-containerd-stargz-snapshotter-dev), $(go version | cut -d' ' -f3)" >>"$OUT-machine.txt"

# ---- helpers ----------------------------------------------------------------------------------
sample() { # contender metric rep value
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$W/raw.tsv"
  e2e_log "run $3 $1 $2 = $4"
}
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }'; }
cold() { bench_wait_quiet; bench_drop_caches; }
rpull() { timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter "$1" "$IMAGE"; }
layers_in_store() {
  local have n=0 l
  have=$(ctr_ content ls -q)
  for l in "${LAYERS[@]}"; do grep -qxF "${l%% *}" <<<"$have" && n=$((n + 1)); done
  echo "$n"
}
view() { # contender: the image's top layer, read-only, on $MNT (unmounted by sbench_fresh)
  local out
  out=$(ctr_view_mount "$1" "bench-view-$$" "${CHAIN[-1]}" "$MNT" 2>&1) || e2e_die "$1: cannot mount a view of $IMAGE: $out"
}
read_or_die() { node "$BENCH_LIB/stargz-read.mjs" "$@" || e2e_die "$1 read of $2 failed"; }
timed_find() { # dir: "SECONDS ENTRIES"
  local t=$EPOCHREALTIME n
  n=$(find "$1" | wc -l)
  echo "$(secs_since "$t") $n"
}
sent() { # contender rep metric-prefix mark [end-mark]: record blob GETs and bytes since mark
  local gets bytes
  read -r gets bytes < <(sbench_registry_sent "$4" "${5:-}")
  sample "$1" "${3}_blob_gets" "$2" "$gets"
  sample "$1" "${3}_blob_bytes" "$2" "$bytes"
}
container_ok() { # contender: `ctr run` prints ok
  local out
  out=$(ctr_ run --rm --snapshotter "$1" "$IMAGE" "bench-run-$$" echo ok 2>&1)
  [[ $out == ok ]] || e2e_die "$1: the container printed '$out', expected 'ok'"
}
check_content() { # contender rep: big.bin and every small file read back as built (small: timed, cold)
  local big small t mark
  cold
  mark=$(sbench_registry_mark)
  t=$EPOCHREALTIME
  small=$(sbench_small_sha "$MNT")
  sample "$1" small_files_read_cold_s "$2" "$(secs_since "$t")"
  [[ $1 == overlayfs ]] || sent "$1" "$2" small_files_read_cold "$mark"
  [[ $small == "$SBENCH_SMALL_SHA" ]] || e2e_die "$1: the small files read back differ from the image's"
  big=$(sha256sum <"$MNT/data/big.bin" | cut -d' ' -f1)
  [[ $big == "$SBENCH_BIG_SHA" ]] || e2e_die "$1: big.bin read back with sha256 $big, expected $SBENCH_BIG_SHA"
  sample "$1" content_ok "$2" 1
}

lazy_a() { # contender rep: rpull, pull-to-output, find, ttfb
  local c=$1 i=$2 t t1 mark end s n
  sbench_fresh "$c"
  cold
  mark=$(sbench_registry_mark)
  t=$EPOCHREALTIME
  rpull "$c" >/dev/null 2>"$W/rpull.err" || e2e_die "$c: rpull failed: $(tail -n 3 "$W/rpull.err" | tr '\n' ' ')"
  t1=$(secs_since "$t")
  end=$(sbench_registry_mark)
  container_ok "$c"
  sample "$c" pull_to_output_s "$i" "$(secs_since "$t")"
  sample "$c" rpull_s "$i" "$t1"
  sent "$c" "$i" rpull "$mark" "$end"
  sample "$c" rpull_layers_in_content_store "$i" "$(layers_in_store)"
  view "$c"
  cold
  mark=$(sbench_registry_mark)
  read -r s n < <(timed_find "$MNT/data/small")
  sample "$c" find_cold_s "$i" "$s"
  [[ $n == 5051 ]] || e2e_die "$c: find saw $n entries, expected 5051"
  bench_wait_quiet
  read -r s n < <(timed_find "$MNT/data/small")
  sample "$c" find_warm_s "$i" "$s"
  sent "$c" "$i" find "$mark"
  cold
  mark=$(sbench_registry_mark)
  sample "$c" ttfb_cold_s "$i" "$(read_or_die ttfb "$MNT/data/big.bin")"
  sent "$c" "$i" ttfb "$mark"
  share "$c" "$i"
  [[ $c == stargz-lazy* ]] || return 0
  SBENCH_LAZY_LATE=1 sbench_fresh "$c"
  cold
  t=$EPOCHREALTIME
  rpull "$c" >/dev/null 2>"$W/rpull.err" || e2e_die "$c: rpull (fused started late) failed: $(tail -n 3 "$W/rpull.err" | tr '\n' ' ')"
  sample "$c" rpull_late_s "$i" "$(secs_since "$t")"
}

# The snapshotter's own share of an rpull: containerd reaches it through bench/lib/grpc-timing-proxy.mjs
# (this step only: the proxy's hop stays out of every other row); from the first Prepare reaching
# the proxy to the last answer it passed back (span), and the time with at least one call open (busy).
SHARE_PID=
share_stop() { [[ -z $SHARE_PID ]] || e2e_stop_pid "$SHARE_PID" 5 || true; SHARE_PID=; }
share() { # contender rep
  local c=$1 i=$2 sock=$W/timed/$1.sock plog=$W/timed/$1.log n span busy
  mkdir -p "$W/timed" && : >"$plog"
  printf '[proxy_plugins."%s"]\n  type = "snapshot"\n  address = "%s"\n' "$c" "$sock" >"$W/timed/proxy.toml"
  node "$BENCH_LIB/grpc-timing-proxy.mjs" "$sock" "$(sbench_socket "$c")" "$plog" 2>>"$W/timed/proxy.err" &
  SHARE_PID=$!
  for ((n = 0; n < 100; n++)); do [[ -S $sock ]] && break; sleep 0.05; done
  [[ -S $sock ]] || e2e_die "the timing proxy did not listen on $sock"
  SBENCH_PROXY_TOML=$W/timed/proxy.toml sbench_fresh "$c"
  cold
  n=$(wc -l <"$plog")
  rpull "$c" >/dev/null 2>"$W/rpull.err" || e2e_die "$c: rpull (timed proxy) failed: $(tail -n 3 "$W/rpull.err" | tr '\n' ' ')"
  read -r span busy < <(awk -F'\t' -v skip="$n" 'NR > skip {
      s[++k] = $1; e[k] = $2; if ($3 ~ /\/Prepare$/ && (first == "" || $1 < first)) first = $1 }
    END {
      if (first == "") { print "none none"; exit }
      for (j = 1; j <= k; j++) if (e[j] >= first) { st = (s[j] > first ? s[j] : first); a[++m] = st; b[m] = e[j]; if (e[j] > last) last = e[j] }
      for (x = 1; x <= m; x++) for (y = x + 1; y <= m; y++) if (a[y] < a[x]) { t = a[x]; a[x] = a[y]; a[y] = t; t = b[x]; b[x] = b[y]; b[y] = t }
      for (x = 1; x <= m; x++) { if (a[x] > ce) { busy += ce - cs; cs = a[x]; ce = b[x] } else if (b[x] > ce) ce = b[x] }
      busy += ce - cs
      printf "%.4f %.4f\n", (last - first) / 1000, busy / 1000 }' "$plog")
  [[ $span != none ]] || e2e_die "$c: no Prepare reached the timing proxy during rpull"
  sample "$c" rpull_snapshotter_span_s "$i" "$span"
  sample "$c" rpull_snapshotter_busy_s "$i" "$busy"
  share_stop
}

lazy_b() { # contender rep: sequential reads, content, memory, a second rpull
  local c=$1 i=$2 mark s mibs cpu rss fuse left t
  sbench_fresh "$c"
  rpull "$c" >/dev/null 2>"$W/rpull.err" || e2e_die "$c: rpull failed: $(tail -n 3 "$W/rpull.err" | tr '\n' ' ')"
  view "$c"
  cold
  mark=$(sbench_registry_mark)
  cpu=$(sbench_cpu "$c")
  read -r s mibs _ < <(read_or_die seq "$MNT/data/big.bin")
  sample "$c" read_cold_s "$i" "$s"
  sample "$c" read_cold_MiBps "$i" "$mibs"
  sample "$c" read_cold_cpu_s "$i" "$(awk -v a="$cpu" -v b="$(sbench_cpu "$c")" 'BEGIN { printf "%.2f", b - a }')"
  sent "$c" "$i" read_cold "$mark"
  cold
  mark=$(sbench_registry_mark)
  read -r s mibs _ < <(read_or_die seq "$MNT/data/big.bin")
  sample "$c" read_warm_s "$i" "$s"
  sample "$c" read_warm_MiBps "$i" "$mibs"
  sent "$c" "$i" read_warm "$mark"
  bench_wait_quiet
  read -r s mibs _ < <(read_or_die seq "$MNT/data/big.bin")
  sample "$c" read_hot_MiBps "$i" "$mibs"
  check_content "$c" "$i"
  read -r rss fuse < <(sbench_rss "$c")
  sample "$c" rss_daemon_MiB "$i" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
  [[ $c == stargz-lazy* ]] && sample "$c" rss_fused_MiB "$i" "$(awk -v k="$fuse" 'BEGIN { printf "%.1f", k / 1024 }')"
  sample "$c" rss_total_MiB "$i" "$(awk -v k="$rss" -v f="$fuse" 'BEGIN { printf "%.1f", (k + f) / 1024 }')"
  # The same image pulled again by a running daemon (its FUSE process up, its caches as they are)
  # once containerd has dropped the image and, through GC, every snapshot of it.
  ctr_view_unmount "$c" "bench-view-$$" "$MNT" || e2e_die "$c: cannot unmount or remove the view"
  ctr_ images rm --sync "$IMAGE" >/dev/null || e2e_die "$c: images rm --sync failed"
  left=$(ctr_ snapshots --snapshotter "$c" ls | awk 'NR > 1' | wc -l)
  [[ $left == 0 ]] || e2e_die "$c: $left snapshots left after the image was removed"
  cold
  mark=$(sbench_registry_mark)
  t=$EPOCHREALTIME
  rpull "$c" >/dev/null 2>"$W/rpull.err" || e2e_die "$c: second rpull failed: $(tail -n 3 "$W/rpull.err" | tr '\n' ' ')"
  sample "$c" rpull_again_s "$i" "$(secs_since "$t")"
  sent "$c" "$i" rpull_again "$mark"
}

baseline() { # rep: containerd's overlayfs, a full pull
  local c=overlayfs i=$1 t t1 mark end s n mibs
  sbench_fresh overlayfs
  cold
  mark=$(sbench_registry_mark)
  t=$EPOCHREALTIME
  ctr_ images pull --plain-http --snapshotter overlayfs "$IMAGE" >/dev/null 2>"$W/pull.err" ||
    e2e_die "overlayfs: pull failed: $(tail -n 3 "$W/pull.err" | tr '\n' ' ')"
  t1=$(secs_since "$t")
  end=$(sbench_registry_mark)
  container_ok overlayfs
  sample "$c" pull_to_output_s "$i" "$(secs_since "$t")"
  sample "$c" pull_s "$i" "$t1"
  sent "$c" "$i" pull "$mark" "$end"
  view overlayfs
  cold
  sample "$c" ttfb_cold_s "$i" "$(read_or_die ttfb "$MNT/data/big.bin")"
  cold
  read -r s mibs _ < <(read_or_die seq "$MNT/data/big.bin")
  sample "$c" read_cold_s "$i" "$s"
  sample "$c" read_cold_MiBps "$i" "$mibs"
  cold
  read -r s n < <(timed_find "$MNT/data/small")
  sample "$c" find_cold_s "$i" "$s"
  bench_wait_quiet
  read -r s n < <(timed_find "$MNT/data/small")
  sample "$c" find_warm_s "$i" "$s"
  check_content "$c" "$i"
}

# ---- the measurement --------------------------------------------------------------------------
read -ra order <<<"$CONTENDERS"
e2e_log "RUNS=$RUNS, contenders: $CONTENDERS"
for ((run = 1; run <= RUNS; run++)); do
  list=("${order[@]}")
  if ((run % 2 == 0)); then
    list=()
    for ((k = ${#order[@]} - 1; k >= 0; k--)); do list+=("${order[k]}"); done
  fi
  for c in "${list[@]}"; do
    if [[ $c == overlayfs ]]; then baseline "$run"; else lazy_a "$c" "$run"; lazy_b "$c" "$run"; fi
  done
done
sbench_stop_all
bench_load_at_end >>"$OUT-machine.txt"

# ---- results ----------------------------------------------------------------------------------
cp "$W/raw.tsv" "$OUT-raw.tsv"
bench_summarize "$OUT-raw.tsv" "$OUT.tsv"
node "$BENCH_LIB/stargz-targets.mjs" "$OUT.tsv" >"$OUT-targets.tsv" || e2e_die "cannot compute the targets from $OUT.tsv"
column -t -s $'\t' "$OUT.tsv"
echo
column -t -s $'\t' "$OUT-targets.tsv"
if [[ " $CONTENDERS " == *" stargz-lazy@kernel "* ]]; then
  node "$BENCH_LIB/transport-targets.mjs" "$OUT.tsv" >"$OUT-transports.tsv" || e2e_die "cannot check the transport targets"
  column -t -s $'\t' "$OUT-transports.tsv"
fi
if [[ " $CONTENDERS " == *" stargz-lazy@before "* ]]; then
  node "$BENCH_LIB/before-after.mjs" "$OUT.tsv" >"$OUT-before.tsv" || e2e_die "cannot compare with stargz-lazy@before"
  echo
  column -t -s $'\t' "$OUT-before.tsv"
fi
if [[ ${BENCH_PROFILE:-0} == 1 ]]; then
  mapfile -t profiles < <(ls "$W"/profile/main.*.cpuprofile 2>/dev/null)
  if [[ ${#profiles[@]} -gt 0 ]]; then
    node "$BENCH_LIB/cpuprofile-top.mjs" "${profiles[@]}" --top 30 --root "$REPO_ROOT" >"$BENCH_RESULTS/stargz-lazy-profile.txt" ||
      e2e_die "cannot read the CPU profiles in $W/profile"
    e2e_log "hottest functions of fused: $BENCH_RESULTS/stargz-lazy-profile.txt"
  else
    e2e_log "no CPU profile of fused in $W/profile"
  fi
  mapfile -t profiles < <(ls "$W"/profile/cli.*.cpuprofile 2>/dev/null)
  if [[ ${#profiles[@]} -gt 0 ]]; then
    node "$BENCH_LIB/cpuprofile-top.mjs" "${profiles[@]}" --top 30 --root "$REPO_ROOT" \
      --since core/grpc/snapshots-service >"$BENCH_RESULTS/stargz-lazy-profile-snaphost.txt" ||
      e2e_die "cannot read the CPU profiles in $W/profile"
  fi
fi
e2e_log "results: $OUT.tsv, $OUT-targets.tsv"
e2e_pass stargz-lazy-bench
e2e_finish
