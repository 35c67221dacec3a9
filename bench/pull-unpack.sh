#!/usr/bin/env bash
# Pull + unpack of the multi-layer Debian test image (test/e2e/lib/multilayer-image.sh: 7
# layers, ~10k entries, ~60 MB gzip) through one containerd (1.6 by default, 2.x with
# CONTAINERD=2) and one local registry: snaphost's `overlayfs-native` (proxy plugin) against
# containerd's built-in `overlayfs`.
#
#   bash bench/pull-unpack.sh               (root; installs what is missing and builds, like CI)
#   CONTAINERD=2 bash bench/pull-unpack.sh  (containerd 2.x: scripts/fetch-containerd2.sh)
#
# containerd 2.x: every contender pulls with plain `ctr images pull` of the 2.x `ctr`, i.e.
# through the transfer service (the fetch and the unpack run inside containerd; on 1.6 `ctr`
# fetches and containerd's diff service unpacks). The transfer service unpacks only into the
# snapshotters of its unpack_config entries: they and the proxy plugins come from
# `snaphost containerd-config --containerd 2 --fragment` (overlayfs and every snaphost backend,
# walking differ), ref-overlayfs gets the same entry. Results get a -containerd2 suffix.
#
# Contenders (CONTENDERS), alternating within every repetition (order reversed every other
# repetition so drift does not favour one):
#   overlayfs          containerd's built-in overlay snapshotter (in-process)
#   overlayfs-native   snaphost (proxy plugin), asyncRemove true like containerd's
#   ref-overlayfs      containerd's overlay code behind the same proxy gRPC API (the conformance
#                      ref-server): isolates the cost of the proxy hop from snaphost's own
#   memory             snaphost's tmpfs backend (optional)
# Per repetition and contender, following ../shared/e2e/baseline.sh's method (beside the clone):
#   pull     `ctr images pull` into an EMPTY content store and snapshotter (images removed
#            with a synchronous GC, content store verified empty), page cache dropped first
#   unpack   the same pull again with all content present after removing only the snapshots
#            (+ a synchronous GC so asynchronous removal is not running concurrently), page
#            cache dropped first: resolve + manifest round trip + unpack of every layer
# Before each timed pull the script waits until the CPUs are mostly idle (bench_wait_quiet).
# and, per pull, the CPU seconds containerd and the snapshotter process spent (utime+stime).
# Checked once per contender (not timed): a container runs from the image and prints the top
# layer's file; with VERIFY=1 (default) the unpacked tree (a read-only `ctr images mount`
# view) is byte-identical to `umoci unpack` of the same image (test/e2e/lib/tree-manifest.sh).
# Target: overlayfs-native / overlayfs <= 1.05 (medians).
# Output: bench/results/pull-unpack.tsv (median, min, max), pull-unpack-ratios.tsv,
# pull-unpack-raw.tsv, pull-unpack-machine.txt.
# Env: CONTAINERD (1, or 2; E2E_CONTAINERD is read too), REPS (5), CONTENDERS ("overlayfs
#      overlayfs-native ref-overlayfs"; on 2.x "overlayfs overlayfs-native"), VERIFY (1),
#      BENCH_PROFILE=1 (snaphost under `node --cpu-prof`; results get a -profiled suffix, the
#      hottest functions go to pull-unpack-profile.txt), BENCH_SKIP_INSTALL=1.
set -uo pipefail
E2E_CONTAINERD=${CONTAINERD:-${E2E_CONTAINERD:-1}}
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/multilayer-image.sh"
. "$E2E_LIB/tree-manifest.sh"
. "$E2E_LIB/containerd.sh"
# shellcheck disable=SC2034 # read by ctr_ (test/e2e/lib/containerd.sh)
CTR_NAMESPACE=snaphost-bench-pull

MAJOR=$(containerd_major)
REPS=${REPS:-5}
if [[ $MAJOR == 2 ]]; then
  CONTENDERS=${CONTENDERS:-"overlayfs overlayfs-native"}
else
  CONTENDERS=${CONTENDERS:-"overlayfs overlayfs-native ref-overlayfs"}
fi
VERIFY=${VERIFY:-1}
SUFFIX=
[[ ${BENCH_PROFILE:-0} == 1 ]] && SUFFIX=-profiled
[[ $MAJOR == 2 ]] && SUFFIX+=-containerd2

bench_init bench-pull
e2e_require_cmds containerd ctr runc docker-registry skopeo umoci jq curl node go debootstrap getfattr openssl
W=$E2E_WORK
OUT=$BENCH_RESULTS/pull-unpack$SUFFIX
bench_machine >"$OUT-machine.txt"
if [[ $MAJOR == 2 ]]; then
  echo "pull: ctr images pull (containerd 2.x ctr: transfer service; unpack_config from snaphost containerd-config --containerd 2 --fragment, walking differ)" >>"$OUT-machine.txt"
else
  echo "pull: ctr images pull (containerd 1.6 ctr: client-side fetch, containerd's diff service unpacks)" >>"$OUT-machine.txt"
fi
printf 'contender\tmetric\trep\tvalue\n' >"$W/raw.tsv"

registry_start
multilayer_push
IMAGE=$ML_IMAGE

# ---- snapshotter processes (before containerd: it dials proxy sockets lazily) -------------
declare -A SN_PID=()
entries=()
for c in $CONTENDERS; do
  case $c in
    overlayfs-native) entries+=("{\"use\":\"overlayfs-native\",\"name\":\"$c\",\"options\":{\"asyncRemove\":true}}") ;;
    memory) entries+=("{\"use\":\"memory\",\"name\":\"$c\",\"options\":{\"size\":\"4g\"}}") ;;
    overlayfs | ref-overlayfs) ;;
    *) e2e_die "unknown contender: $c" ;;
  esac
done
SNAPHOST=
if [[ ${#entries[@]} -gt 0 ]]; then
  (IFS=,; printf '{"socketDir":"%s","rootDir":"%s","backends":[%s]}\n' "$W/sockets" "$W/state" "${entries[*]}") >"$W/plugins.config.json"
  profile_dir=
  [[ ${BENCH_PROFILE:-0} == 1 ]] && profile_dir=$W/profile
  bench_snaphost_start snaphost "$profile_dir" --config "$W/plugins.config.json" --log-level info
  SNAPHOST=$BENCH_PID
fi
# containerd 2.x: snaphost's backends as `snaphost containerd-config --containerd 2 --fragment`
# prints them (proxy plugins with exports + the transfer service's unpack entries, overlayfs too).
: >"$W/proxy.toml"
if [[ $MAJOR == 2 ]]; then
  if [[ -n $SNAPHOST ]]; then
    node "$SNAPHOST_CLI" containerd-config --config "$W/plugins.config.json" --containerd 2 --fragment >"$W/proxy.toml" ||
      e2e_die "snaphost containerd-config --containerd 2 --fragment failed"
  else
    printf '[[plugins."io.containerd.transfer.v1.local".unpack_config]]\n  platform = "linux/%s"\n  snapshotter = "overlayfs"\n  differ = "walking"\n' \
      "$(dpkg --print-architecture)" >"$W/proxy.toml"
  fi
fi
for c in $CONTENDERS; do
  case $c in
    overlayfs) continue ;;
    ref-overlayfs) bench_ref_server_start "$c" "$W/$c" "$W/sockets/$c.sock" --async-remove ;;
    *) BENCH_PID=$SNAPHOST ;;
  esac
  SN_PID[$c]=$BENCH_PID
  bench_wait_socket "$W/sockets/$c.sock" "$BENCH_PID"
  [[ $MAJOR == 2 && $c != ref-overlayfs ]] && continue # in the fragment already
  printf '[proxy_plugins."%s"]\n  type = "snapshot"\n  address = "%s"\n' "$c" "$W/sockets/$c.sock" >>"$W/proxy.toml"
  if [[ $MAJOR == 2 ]]; then # the same unpack entry as snaphost's backends get
    printf '[[plugins."io.containerd.transfer.v1.local".unpack_config]]\n  platform = "linux/%s"\n  snapshotter = "%s"\n  differ = "walking"\n' \
      "$(dpkg --print-architecture)" "$c" >>"$W/proxy.toml"
  fi
done
E2E_CONTAINERD_LOG_LEVEL=warn containerd_start "$W/proxy.toml"

# ---- helpers --------------------------------------------------------------------------------
cpu_seconds() { # PID: utime + stime so far
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}

sample() { # contender metric rep value
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$W/raw.tsv"
  e2e_log "rep $3 $1 $2 = $4"
}

wait_snapshotter() { # proxy plugins: containerd reaches the socket (reconnect backoff up to ~3 s)
  [[ $1 == overlayfs ]] && return 0
  local i
  for ((i = 0; i < 100; i++)); do
    if ctr_ snapshots --snapshotter "$1" prepare "bench-probe-$$" >/dev/null 2>&1; then
      ctr_ snapshots --snapshotter "$1" rm "bench-probe-$$" >/dev/null
      return 0
    fi
    sleep 0.1
  done
  e2e_die "containerd cannot reach snapshotter $1"
}

rm_all_snapshots() { # snapshotter
  local keys k i
  for ((i = 0; i < 20; i++)); do
    keys=$(ctr_ snapshots --snapshotter "$1" ls | awk 'NR > 1 { print $1 }')
    [[ -z $keys ]] && return 0
    for k in $keys; do ctr_ snapshots --snapshotter "$1" rm "$k" >/dev/null 2>&1 || true; done
  done
  e2e_die "could not remove every $1 snapshot"
}

gc_sync() { # a synchronous GC, snapshotter Cleanup included, via a throw-away tag
  ctr_ images tag --force "$IMAGE" bench-gc.local/x:y >/dev/null &&
    ctr_ images rm --sync bench-gc.local/x:y >/dev/null || e2e_die "synchronous GC failed"
}

clean_all() { # no image, no content, no snapshot
  local imgs left c
  imgs=$(ctr_ images ls -q)
  if [[ -n $imgs ]]; then
    # shellcheck disable=SC2086
    ctr_ images rm --sync $imgs >/dev/null || e2e_die "images rm failed"
  fi
  for c in $CONTENDERS; do rm_all_snapshots "$c"; done
  left=$(ctr_ content ls -q)
  if [[ -n $left ]]; then
    # shellcheck disable=SC2086
    ctr_ content rm $left >/dev/null
  fi
  [[ -z $(ctr_ content ls -q) ]] || e2e_die "content store not empty after clean"
}

timed_pull() { # contender metric rep
  local c=$1 pid=${SN_PID[$1]:-} t c0 s0=0 c1 s1=0 secs
  c0=$(cpu_seconds "$CONTAINERD_PID")
  [[ -n $pid ]] && s0=$(cpu_seconds "$pid")
  t=$EPOCHREALTIME
  ctr_ images pull --plain-http --snapshotter "$c" "$IMAGE" >/dev/null || e2e_die "pull on $c failed"
  secs=$(awk -v a="$t" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
  c1=$(cpu_seconds "$CONTAINERD_PID")
  [[ -n $pid ]] && s1=$(cpu_seconds "$pid")
  sample "$c" "$2" "$3" "$secs"
  sample "$c" "${2}_cpu_containerd" "$3" "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')"
  [[ -n $pid ]] && sample "$c" "${2}_cpu_snapshotter" "$3" "$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')"
  return 0
}

verify() { # contender: the unpacked image is what it should be (untimed)
  local c=$1 out mnt=$W/mnt-$1
  out=$(ctr_ run --rm --snapshotter "$c" "$IMAGE" "bench-$c-$$" cat /e2e/top.txt 2>&1)
  [[ $out == "$ML_TOP_TEXT" ]] || e2e_die "container on $c printed '$out', expected '$ML_TOP_TEXT'"
  [[ $VERIFY == 1 ]] || return 0
  [[ -f $W/reference.manifest ]] || {
    multilayer_reference "$W/reference"
    tree_manifest "$W/reference/rootfs" >"$W/reference.manifest" || e2e_die "cannot describe the reference rootfs"
    rm -rf "$W/reference"
  }
  mkdir -p "$mnt"
  ctr_ images mount --snapshotter "$c" "$IMAGE" "$mnt" >/dev/null || e2e_die "ctr images mount on $c failed"
  tree_manifest "$mnt" >"$W/$c.manifest"
  ctr_ images unmount --rm "$mnt" >/dev/null || e2e_die "ctr images unmount on $c failed"
  diff -q "$W/reference.manifest" "$W/$c.manifest" >/dev/null ||
    e2e_die "the tree unpacked by $c differs from umoci's: diff $W/reference.manifest $W/$c.manifest (E2E_KEEP_WORK=1 keeps them)"
  e2e_log "$c: unpacked tree identical to the reference ($(wc -l <"$W/$c.manifest") manifest lines)"
}

# ---- the measurement ------------------------------------------------------------------------
for c in $CONTENDERS; do wait_snapshotter "$c"; done
read -ra order <<<"$CONTENDERS"
e2e_log "pull + unpack of $IMAGE, REPS=$REPS, contenders: $CONTENDERS"
for ((rep = 1; rep <= REPS; rep++)); do
  list=("${order[@]}")
  if ((rep % 2 == 0)); then
    list=()
    for ((i = ${#order[@]} - 1; i >= 0; i--)); do list+=("${order[i]}"); done
  fi
  for c in "${list[@]}"; do
    clean_all
    bench_wait_quiet
    bench_drop_caches
    timed_pull "$c" pull "$rep"
    rm_all_snapshots "$c"
    gc_sync
    bench_wait_quiet
    bench_drop_caches
    timed_pull "$c" unpack "$rep"
    ((rep == 1)) && verify "$c"
  done
done
clean_all

bench_load_at_end >>"$OUT-machine.txt"
# ---- results --------------------------------------------------------------------------------
cp "$W/raw.tsv" "$OUT-raw.tsv"
bench_summarize "$OUT-raw.tsv" "$OUT.tsv"
awk -F'\t' 'NR > 1 { med[$1 "\t" $2] = $4 }
  END {
    print "pair\tmetric\tmedian_ratio\tmeets_1.05x"
    split("overlayfs-native:overlayfs ref-overlayfs:overlayfs overlayfs-native:ref-overlayfs memory:overlayfs", pairs, " ")
    for (p = 1; p <= 4; p++) {
      split(pairs[p], ab, ":")
      for (m = 1; m <= 2; m++) {
        metric = (m == 1) ? "pull" : "unpack"
        a = ab[1] "\t" metric; b = ab[2] "\t" metric
        if (!(a in med) || !(b in med) || med[b] == 0) continue
        r = med[a] / med[b]
        printf "%s/%s\t%s\t%.3f\t%s\n", ab[1], ab[2], metric, r, (r <= 1.05) ? "yes" : "no"
      }
    }
  }' "$OUT.tsv" >"$OUT-ratios.tsv"
column -t -s $'\t' "$OUT.tsv"
echo
column -t -s $'\t' "$OUT-ratios.tsv"

if [[ ${BENCH_PROFILE:-0} == 1 && -n $SNAPHOST ]]; then
  containerd_stop
  bench_stop "$SNAPHOST"
  node "$BENCH_LIB/cpuprofile-top.mjs" "$W"/profile/*.cpuprofile --top 30 --root "$REPO_ROOT" \
    --since core/grpc/snapshots-service >"$BENCH_RESULTS/pull-unpack-profile.txt" ||
    e2e_die "cannot read the CPU profiles in $W/profile"
  e2e_log "hottest functions: $BENCH_RESULTS/pull-unpack-profile.txt"
fi
e2e_log "results: $OUT.tsv, $OUT-ratios.tsv"
