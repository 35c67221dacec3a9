#!/usr/bin/env bash
# End to end for "hostile images cannot freeze, exhaust or fool a node" (issue 13) with the
# `stargz-lazy` backend (default options: prefetch and background fetch on): one `snaphost serve`,
# a private containerd (E2E_CONTAINERD=1 or 2; CI runs it on 2.x), a registry behind
# lib/proxy/counting-proxy.mjs. The hostile images are crafted by lib/hostile-images.mjs (real
# eStargz blobs with a crafted TOC, on top of the probe image's busybox layer) and pulled with
# `ctr-remote image rpull --plain-http --snapshotter stargz-lazy`, one after another, while
#   (1) a benign lazily pulled image (the probe image of lib/estargz-images.sh) is read: a
#       container runs on it (a busybox loop checking a file's checksum), and from the host
#       lib/read-latency-probe.mjs reads that container's rootfs (overlayfs over the FUSE
#       layers) with fresh O_DIRECT opens, so every open, read and close reaches the FUSE
#       process; no read may take over STALL_MS during the hostile part;
#   (a) chain: a TOC with a 200,000-entry hard-link chain listed in reverse. The rpull ends
#       within PREPARE_S; the layer is then either mounted and /h/l000000 reads right in a
#       container, or it was refused / fell back with a log line naming the layer digest;
#   (b) bomb-honest and bomb-lying: 12 files, each one chunk whose gzip member inflates 64 MiB of
#       one byte (~64 KiB compressed; another byte per file, so no chunk cache dedupes them),
#       placed before a .prefetch.landmark (prefetched at mount); honest declares 64 MiB per
#       file, lying 1 MiB (with the digests of the 64 MiB). A container reads all 12 at once:
#       honest ones read right (sha256), lying ones fail with EIO and the log names the layer
#       and the file; the FUSE process's RSS (VmRSS sampled every 0.2 s, and VmHWM when it rose)
#       grows by at most RSS_GROWTH_MIB over its value when the phase starts;
#   (c) swap: an image WITHOUT the toc.digest annotation whose layer blob the proxy swaps for
#       another valid eStargz blob of the same size (data/who "forged!…" instead of "genuine").
#       stargz-lazy does not mount it lazily (log: the layer digest, "unverified"), containerd's
#       normal pull then fails on the digest, and no container ever reads the forged file; with
#       the proxy honest again the same image pulls (normally) and reads "genuine"; when the
#       built backend has `allowUnverifiedLayers`, a second instance with it on mounts the
#       swapped layer lazily (the opt-in does what it says);
#   then the full stop: no FUSE process, no mount, no container is left.
# E2E_HOSTILE_CASES (default "chain bomb swap") runs only the cases named (each case's effect on
# the node otherwise shows in the next ones: a chain still being indexed delays later mounts).
#   bash test/e2e/stargz-lazy-hostile.e2e.sh   (root; needs `npm run build` and scripts/install-deps.sh)
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/proxy.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/estargz-images.sh"
. "$E2E_LIB/tree-manifest.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/left-behind.sh"

SN=stargz-lazy
UV=stargz-unverified
CTR_NAMESPACE=snaphost-e2e-sgz-hostile
STALL_MS=200     # the longest a benign read may take while the hostile images are pulled and read
PREPARE_S=20     # the longest the rpull of the hard-link chain may take
# How much the FUSE process's RSS may grow while a bomb image is pulled and read: the default
# inflation budget (inflateBudgetBytes, 256 MiB for the whole process) plus 128 MiB of buffers.
RSS_GROWTH_MIB=384
CHAIN_TEXT='the end of a hard-link chain' # lib/hostile-images.mjs's CHAIN_TEXT
CASES=" ${E2E_HOSTILE_CASES:-chain bomb swap} "
case_on() { [[ $CASES == *" $1 "* ]]; }

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node openssl flock tar fusermount sha256sum
e2e_init stargz-lazy-hostile
W=$E2E_WORK
sock() { echo "$W/sockets/$1.sock"; }
ROOT=$W/state/$SN
UV_ROOT=$W/state/$UV

registry_start
proxy_start
probe_build

# ---- config, daemon, containerd ------------------------------------------------------------------
# The opt-in sub-case of (c) needs a built backend that has the option.
HAS_UV=0
grep -q allowUnverifiedLayers "$REPO_ROOT/dist/backends/stargz-lazy/options.js" 2>/dev/null && HAS_UV=1
UV_BACKEND=
[[ $HAS_UV == 1 ]] && UV_BACKEND="{ use: '$SN', name: '$UV', options: { allowUnverifiedLayers: true } },"
snaphost_user_config <<EOF
    { use: '$SN', options: {} },
    $UV_BACKEND
EOF
PROXY_TOML=$W/proxy-plugins.toml
E2E_CURRENT=containerd-config
snaphost_cli containerd-config --config "$CONFIG" --containerd "${E2E_CONTAINERD:-1}" >"$PROXY_TOML" 2>"$W/containerd-config.err" ||
  e2e_die "snaphost containerd-config failed: $(tail -n 3 "$W/containerd-config.err" | tr '\n' ' ')"

E2E_CURRENT=serve
# Registered first, so they run last: whatever a failed run left of the FUSE processes.
e2e_on_exit fused_stop "$ROOT"
e2e_on_exit fused_stop "$UV_ROOT"
e2e_add_log fused "$ROOT/fused.log"
snaphost_start "$CONFIG"
SERVED=("$(sock "$SN")")
[[ $HAS_UV == 1 ]] && SERVED+=("$(sock "$UV")")
snaphost_wait_serving "${SERVED[@]}" || e2e_die "snaphost does not serve ${SERVED[*]}"
e2e_pass serving
containerd_start "$PROXY_TOML"
ctr_wait_snapshotter "$SN" 20 || e2e_die "containerd cannot reach $SN"

# ---- images ------------------------------------------------------------------------------------------
E2E_CURRENT=images
esgz_push "$PROBE_OCI" "$PROBE_TAG" snaphost-e2e/probe
PROBE_ESGZ=$REGISTRY/snaphost-e2e/probe:esgz
started=$(date +%s%N)
node "$E2E_LIB/hostile-images.mjs" --base "$PROBE_OCI-esgz/oci:esgz" --out "$W/hostile/oci" --sums "$W/bomb-sums" >"$W/hostile.txt" 2>"$W/hostile.err" ||
  e2e_die "crafting the hostile images failed: $(tail -n 3 "$W/hostile.err" | tr '\n' ' ')"
e2e_log "crafted the hostile images in $((($(date +%s%N) - started) / 1000000)) ms"
layer_of() { awk -v t="$1" '$1 == t { print $2 }' "$W/hostile.txt"; }
push_hostile() { # TAG REPO:TAG
  skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$W/hostile/oci:$1" "docker://$REGISTRY/snaphost-e2e/$2" >>"$W/push-hostile.log" 2>&1 ||
    e2e_die "skopeo copy of $1 failed: $(tail -n 3 "$W/push-hostile.log" | tr '\n' ' ')"
}
for t in chain bomb-honest bomb-lying; do push_hostile "$t" "hostile:$t"; done
push_hostile swap-genuine swap:genuine
push_hostile swap-forged swap:forged
e2e_log "pushed the hostile images"

# snaphost's and the FUSE processes' logs, for the lines that must name a layer.
logs() { cat "$SNAPHOST_LOG" "$ROOT/fused.log" "$UV_ROOT/fused.log" 2>/dev/null; return 0; }
# logs_name DIGEST WORD: a log line names the layer (its digest, full or cut to 12 hex digits)
# and WORD (an extended regex, case-insensitive).
logs_name() {
  local hex=${1#sha256:}
  logs | grep -F -- "${hex:0:12}" | grep -iE -- "$2" >/dev/null
}
logs_naming() { local hex=${1#sha256:}; logs | grep -F -- "${hex:0:12}" | grep -iE -- "$2" | tail -n 1 | cut -c1-400; }
rpull() { # SNAPSHOTTER REF: ctr-remote rpull, bounded; output in $RPULL_OUT, seconds in $RPULL_S
  local t0=$(date +%s%N) rc
  RPULL_OUT=$(timeout -k 5 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter "$1" "$2" 2>&1)
  rc=$?
  RPULL_S=$(awk -v n="$(($(date +%s%N) - t0))" 'BEGIN { printf "%.1f", n / 1e9 }')
  return $rc
}
run_in() { # SNAPSHOTTER REF NAME CMD...: ctr run --rm, 120 s bound (then the task is killed)
  local sn=$1 ref=$2 name=$3-$$ rc
  shift 3
  timeout -k 5 120 "$CTR" --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" run --rm --snapshotter "$sn" "$ref" "$name" "$@" 2>&1
  rc=$?
  if [[ $rc == 124 || $rc == 137 ]]; then
    echo "(ctr run $name timed out after 120 s)"
    ctr_ tasks kill -s SIGKILL "$name" >/dev/null 2>&1
    sleep 1
    ctr_ tasks rm -f "$name" >/dev/null 2>&1
    ctr_ containers rm "$name" >/dev/null 2>&1
  fi
  return $rc
}

# ---- (1) the benign reader -------------------------------------------------------------------------
E2E_CURRENT=reader
rpull "$SN" "$PROBE_ESGZ" || e2e_die "rpull $PROBE_ESGZ failed: $(tail -n 3 <<<"$RPULL_OUT" | tr '\n' ' ')"
e2e_pass rpull-benign
BYSTANDER_SUM=$(echo "$PROBE_BYSTANDER_TEXT" | sha256sum | cut -c1-64)
OUT=$W/reader-out
mkdir -p "$OUT" "$W/probe"
READER=sgz-hostile-reader-$$
read -r -d '' LOOP <<EOS
while :; do
  s=\$(sha256sum </data/bystander.txt | cut -c1-64)
  if [ "\$s" = $BYSTANDER_SUM ]; then echo ok >>/out/passes; else echo "bad: \$s" >>/out/errs; fi
  cat /data/small/* >/dev/null 2>>/out/errs
  sleep 0.2
done
EOS
out=$(ctr_ run -d --snapshotter "$SN" --mount "type=bind,src=$OUT,dst=/out,options=rbind:rw" "$PROBE_ESGZ" "$READER" /bin/sh -c "$LOOP" 2>&1) ||
  e2e_die "ctr run -d $READER failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
READER_UP=1
reader_rm() {
  [[ $READER_UP == 1 ]] || return 0
  ctr_ tasks rm -f "$READER" >/dev/null 2>&1
  ctr_ containers rm "$READER" >/dev/null 2>&1 || return 1
  READER_UP=0
}
e2e_on_exit reader_rm
READER_ROOTFS=$CONTAINERD_DIR/state/io.containerd.runtime.v2.task/$CTR_NAMESPACE/$READER/rootfs
e2e_wait 20 test -f "$READER_ROOTFS/data/bystander.txt" || e2e_die "the reader's rootfs $READER_ROOTFS is not there"
PROBE_FILES=data/bystander.txt,data/warm.bin,data/victim.bin
for i in $(seq -w 1 20); do PROBE_FILES+=,data/small/s$i.txt; done
node "$E2E_LIB/read-latency-probe.mjs" run --dir "$READER_ROOTFS" --files "$PROBE_FILES" --out "$W/probe" >"$W/probe.log" 2>&1 </dev/null &
PROBE_PID=$!
probe_stop() { [[ -z ${PROBE_PID:-} ]] || e2e_stop_pid "$PROBE_PID" 5; PROBE_PID=; }
e2e_on_exit probe_stop
probe_reads() { jq -r '.reads' "$W/probe/status.json" 2>/dev/null || echo 0; }
# Warm: every file read a few times (its chunks fetched), before the measured part.
probe_warm() { (($(probe_reads) >= 3 * 23)); }
e2e_wait 60 probe_warm || e2e_die "the latency probe did not warm up: $(probe_reads) reads; $(tail -n 3 "$W/probe.log" | tr '\n' ' ')"
if [[ $(jq -r '.direct' "$W/probe/status.json") == true ]]; then
  e2e_log "the latency probe reads with O_DIRECT"
else
  e2e_log "O_DIRECT refused: the latency probe reads with fresh buffered opens"
fi
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# stall_check NAME FROM_MS: no benign read started since FROM_MS took over STALL_MS.
stall_check() {
  local r max
  r=$(node "$E2E_LIB/read-latency-probe.mjs" report --out "$W/probe" --from "$2")
  max=${r%% *}
  e2e_log "$1: slowest benign read ${max} ms (max ms, reads, errors, worst: $r)"
  if ((max <= STALL_MS)); then e2e_pass "$1-no-stall"; else e2e_fail "$1-no-stall" "a benign read took $max ms (> $STALL_MS): $r"; fi
}
FUSED_PID=$(fused_pids "$ROOT" | head -n 1)
[[ -n $FUSED_PID ]] || e2e_die "no FUSE-serving process for $ROOT"
fused_kib() { # FIELD: VmHWM or VmRSS of the FUSE process, KiB (0 when it is gone)
  awk -v f="$1:" '$1 == f { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$FUSED_PID/status" 2>/dev/null || echo 0
}
e2e_log "FUSE process $FUSED_PID: VmHWM $(($(fused_kib VmHWM) / 1024)) MiB before the hostile images"
HOSTILE_FROM=$(now_ms)

# ---- (a) the 200k hard-link chain -----------------------------------------------------------------
chain_case() {
E2E_CURRENT=chain
CHAIN_LAYER=$(layer_of chain)
from=$(now_ms)
if rpull "$SN" "$REGISTRY/snaphost-e2e/hostile:chain"; then rc=0; else rc=1; fi
e2e_log "chain: rpull exit $rc after ${RPULL_S}s: $(tail -n 1 <<<"$RPULL_OUT" | cut -c1-300)"
if awk -v s="$RPULL_S" -v b="$PREPARE_S" 'BEGIN { exit !(s <= b) }'; then e2e_pass chain-prepare-bounded; else e2e_fail chain-prepare-bounded "the rpull took ${RPULL_S}s (> ${PREPARE_S}s)"; fi
outcome=
if [[ $rc == 0 ]]; then
  out=$(run_in "$SN" "$REGISTRY/snaphost-e2e/hostile:chain" chain cat /h/l000000)
  [[ $out == "$CHAIN_TEXT" ]] && outcome="mounted: /h/l000000 reads right"
fi
# A warning or error naming the layer and why it was not mounted.
CHAIN_REFUSED='"level":"?(warn|error|40|50)"?.*(fall|refus|fail|reject|index|timeout|timed out|abort)'
if [[ -z $outcome ]] && logs_name "$CHAIN_LAYER" "$CHAIN_REFUSED"; then
  outcome="refused: $(logs_naming "$CHAIN_LAYER" "$CHAIN_REFUSED")"
fi
if [[ -n $outcome ]]; then
  e2e_pass chain-mounted-or-refused
  e2e_log "chain: $outcome"
else
  e2e_fail chain-mounted-or-refused "rpull exit $rc ($(tail -n 2 <<<"$RPULL_OUT" | tr '\n' ' ' | cut -c1-200)); no readable /h/l000000 (got: ${out:-nothing}) and no log line naming $CHAIN_LAYER with a reason"
fi
sleep 3 # work left running after the prepare shows up here
stall_check chain "$from"
}
case_on chain && chain_case

# ---- (b) gzip bombs ----------------------------------------------------------------------------------
# The container reads every bomb file at once.
BOMB_READ='for f in /bomb/b*; do (s=$(sha256sum <$f 2>&1) && echo "$f ${s%% *}" || echo "$f FAILED $s") & done; wait'
rss_sampler() { # sample VmRSS every 0.2 s into $W/rss-$1 until killed
  while :; do fused_kib VmRSS >>"$W/rss-$1"; sleep 0.2; done
}
bomb_case() { # honest|lying
  local v=$1 layer from out n_eio sampler peak hwm hwm0 rss0 mounts
  E2E_CURRENT=bomb-$v
  layer=$(layer_of "bomb-$v")
  from=$(now_ms)
  : >"$W/rss-$v"
  rss0=$(fused_kib VmRSS)
  hwm0=$(fused_kib VmHWM)
  rss_sampler "$v" &
  sampler=$!
  mounts=$(fuse_mounts_below "$ROOT" | grep -c .)
  if rpull "$SN" "$REGISTRY/snaphost-e2e/hostile:bomb-$v"; then
    e2e_log "bomb-$v: rpull done after ${RPULL_S}s"
    # Mounted lazily (one more FUSE mount), else the reads below would not test the FUSE process.
    if (($(fuse_mounts_below "$ROOT" | grep -c .) == mounts + 1)); then
      e2e_pass "bomb-$v-mounted-lazily"
    else
      e2e_fail "bomb-$v-mounted-lazily" "no new FUSE mount below $ROOT after the rpull: $(logs_naming "$layer" '.' | cut -c1-300)"
    fi
    out=$(run_in "$SN" "$REGISTRY/snaphost-e2e/hostile:bomb-$v" "bomb-$v" /bin/sh -c "$BOMB_READ")
    sleep 2 # prefetch and background fetch may still inflate
  else
    out="rpull failed after ${RPULL_S}s: $(tail -n 2 <<<"$RPULL_OUT" | tr '\n' ' ')"
  fi
  kill "$sampler" 2>/dev/null
  wait "$sampler" 2>/dev/null
  peak=$(sort -n "$W/rss-$v" | tail -n 1)
  peak=${peak:-0}
  hwm=$(fused_kib VmHWM)
  ((hwm > hwm0 && hwm > peak)) && peak=$hwm
  e2e_log "bomb-$v: FUSE process RSS $((rss0 / 1024)) MiB at the start, peak $((peak / 1024)) MiB (+$(((peak - rss0) / 1024)) MiB); VmHWM $((hwm / 1024)) MiB"
  e2e_log "bomb-$v: the container read: $(head -c 600 <<<"$out" | tr '\n' '|')"
  if ((hwm > 0 && peak - rss0 <= RSS_GROWTH_MIB * 1024)); then
    e2e_pass "bomb-$v-fused-rss-bounded"
  else
    e2e_fail "bomb-$v-fused-rss-bounded" "the FUSE process's RSS grew by $(((peak - rss0) / 1024)) MiB (> $RSS_GROWTH_MIB MiB), or it is gone (VmHWM ${hwm} KiB)"
  fi
  n_eio=$(grep -E '^/bomb/b[0-9]+ FAILED' <<<"$out" | grep -ciE 'I/O error|Input/output error')
  if [[ $v == honest ]]; then
    if diff <(grep -E '^/bomb/b[0-9]+ ' <<<"$out" | sort) "$W/bomb-sums" >/dev/null; then
      e2e_pass bomb-honest-reads-right
    else
      e2e_fail bomb-honest-reads-right "not every file read right: $(diff <(grep -E '^/bomb/b[0-9]+ ' <<<"$out" | sort) "$W/bomb-sums" | head -n 4 | tr '\n' '|' | cut -c1-300)"
    fi
  else
    if [[ $n_eio == 12 ]]; then e2e_pass bomb-lying-eio; else e2e_fail bomb-lying-eio "$n_eio of 12 files failed with EIO: $(head -c 300 <<<"$out" | tr '\n' '|')"; fi
    if logs_name "$layer" 'bomb/b'; then
      e2e_pass bomb-lying-logged
      e2e_log "bomb-lying: $(logs_naming "$layer" 'bomb/b')"
    else
      e2e_fail bomb-lying-logged "no log line names the layer $layer and a bomb file"
    fi
  fi
  stall_check "bomb-$v" "$from"
}
if case_on bomb; then
  bomb_case honest
  bomb_case lying
fi

# ---- (c) a swapped blob without toc.digest -----------------------------------------------------------
swap_case() {
E2E_CURRENT=swap
GENUINE=$(layer_of swap-genuine)
FORGED=$(layer_of swap-forged)
SWAP_REF=$PROXY/snaphost-e2e/swap:genuine
proxy_swap "$GENUINE" "$FORGED"
from=$(now_ms)
if rpull "$SN" "$SWAP_REF"; then rc=0; else rc=1; fi
e2e_log "swap: rpull exit $rc after ${RPULL_S}s: $(tail -n 1 <<<"$RPULL_OUT" | cut -c1-300)"
if [[ $rc != 0 ]] && grep -qiE 'digest|mismatch' <<<"$RPULL_OUT"; then
  e2e_pass swap-pull-fails-on-digest
else
  e2e_fail swap-pull-fails-on-digest "rpull exit $rc: $(tail -n 2 <<<"$RPULL_OUT" | tr '\n' ' ' | cut -c1-300)"
fi
if logs_name "$GENUINE" 'unverified|toc.digest|toc digest'; then
  e2e_pass swap-not-lazy-logged
  e2e_log "swap: $(logs_naming "$GENUINE" 'unverified|toc.digest|toc digest')"
else
  e2e_fail swap-not-lazy-logged "no log line names the layer $GENUINE and an unverified / no TOC digest reason"
fi
out=$(run_in "$SN" "$SWAP_REF" swap-run cat /data/who)
if grep -q forged <<<"$out"; then
  e2e_fail swap-forged-never-read "a container read the forged data/who: $(head -c 200 <<<"$out")"
else
  e2e_pass swap-forged-never-read
  e2e_log "swap: ctr run of the image: $(tail -n 1 <<<"$out" | cut -c1-200)"
fi
stall_check swap "$from"
proxy_clean
if rpull "$SN" "$SWAP_REF" && [[ $(run_in "$SN" "$SWAP_REF" swap-clean cat /data/who) == genuine ]]; then
  e2e_pass swap-honest-proxy-pulls-genuine
else
  e2e_fail swap-honest-proxy-pulls-genuine "rpull: $(tail -n 1 <<<"$RPULL_OUT" | cut -c1-200); ctr run: $(run_in "$SN" "$SWAP_REF" swap-clean2 cat /data/who | tail -n 1 | cut -c1-200)"
fi
if [[ $HAS_UV == 1 ]]; then
  # The opt-in: a second instance with allowUnverifiedLayers mounts the swapped layer lazily.
  E2E_CURRENT=swap-opt-in
  ctr_wait_snapshotter "$UV" 20 || e2e_fail swap-opt-in-reachable "containerd cannot reach $UV"
  proxy_swap "$GENUINE" "$FORGED"
  before=$(fuse_mounts_below "$UV_ROOT" | grep -c .)
  if rpull "$UV" "$SWAP_REF" && (($(fuse_mounts_below "$UV_ROOT" | grep -c .) == before + 2)); then
    e2e_pass swap-opt-in-mounts-lazily
    e2e_log "swap (allowUnverifiedLayers): a container reads data/who: $(run_in "$UV" "$SWAP_REF" swap-uv cat /data/who | tail -n 1 | cut -c1-100)"
  else
    e2e_fail swap-opt-in-mounts-lazily "rpull: $(tail -n 1 <<<"$RPULL_OUT" | cut -c1-200); FUSE mounts below $UV_ROOT: $(fuse_mounts_below "$UV_ROOT" | grep -c .) (were $before)"
  fi
  proxy_clean
else
  e2e_log "swap: the built backend has no allowUnverifiedLayers option: opt-in sub-case skipped"
fi
}
case_on swap && swap_case

# ---- the whole hostile part, and the benign container ------------------------------------------------
E2E_CURRENT=reader
stall_check hostile-part "$HOSTILE_FROM"
reader_ok() {
  [[ ! -s $OUT/errs ]] || { echo "the reader logged: $(head -n 3 "$OUT/errs" | tr '\n' '|')"; return 1; }
  (($(wc -l <"$OUT/passes") > 10)) || { echo "the reader made only $(wc -l <"$OUT/passes") passes"; return 1; }
}
e2e_check reader-read-right-throughout reader_ok
probe_errors=$(jq -r '"\(.errors) \(.lastError)"' "$W/probe/status.json")
if [[ ${probe_errors%% *} == 0 ]]; then e2e_pass probe-reads-no-errors; else e2e_fail probe-reads-no-errors "$probe_errors"; fi
e2e_log "the latency probe made $(probe_reads) reads; the container $(wc -l <"$OUT/passes") passes"
probe_stop

# ---- the full stop: nothing left behind --------------------------------------------------------------
E2E_CURRENT=shutdown
reader_rm || e2e_fail reader-removed "could not remove the container $READER"
containerd_stop
snaphost_terminate 20
check_sigterm_exit
for b in "$SN" "$UV"; do
  [[ $b == "$SN" || $HAS_UV == 1 ]] || continue
  snaphost_cli shutdown --config "$CONFIG" --backend "$b" >>"$W/shutdown.log" 2>&1 || e2e_log "shutdown of $b: $(tail -n 1 "$W/shutdown.log")"
done
check_no_leftovers "$ROOT" "$UV_ROOT"

e2e_finish
