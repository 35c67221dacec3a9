#!/usr/bin/env bash
# End to end for "restarts are harmless" (issue 5, item 1) with the `stargz-lazy` backend: one
# `snaphost serve` hosts stargz-lazy and overlayfs-native for a private containerd 1.6; the probe
# image (lib/estargz-images.sh: busybox + a data layer with a 12 MiB file of three eStargz
# chunks) is pulled lazily with `ctr-remote image rpull --plain-http --snapshotter stargz-lazy`.
#   (a) a container reads lazily pulled files in a loop, appending checksums to a file on a bind
#       mount; snaphost is SIGTERM'd mid-read and started again, then SIGKILL'd and started
#       again: every checksum the container wrote is right and the reads went on throughout;
#       after each restart `ctr snapshots ls` shows the same snapshots, the log says snaphost
#       attached to the running FUSE process, and a new container reads every file correctly;
#   (b) the FUSE-serving process killed with SIGKILL (its mounts answer ENOTCONN), snaphost
#       restarted: the log names each restored snapshot, a NEW container reads every file right;
#   (c) a restore that cannot work: FUSE process killed, registry stopped, chunk cache cleared,
#       snaphost restarted: the log names each snapshot that could not be restored and why, and
#       a summary line; the snapshots stay listed; snaphost still serves (a container on
#       overlayfs-native runs); `ctr run` on the lazily pulled image fails cleanly, in bounded time;
#   then the explicit full stop (`snaphost shutdown`, which calls the backend's `shutdown`): no
#   FUSE process and no mount is left.
#   bash test/e2e/stargz-lazy-restart.e2e.sh     (root; needs `npm run build` and scripts/install-deps.sh)
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/estargz-images.sh"
. "$E2E_LIB/tree-manifest.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/left-behind.sh"

SN=stargz-lazy
CTR_NAMESPACE=snaphost-e2e-sgz-restart
# Bound of one layer's mount (and so of each layer's restore): short, so (c) is quick.
MOUNT_TIMEOUT_MS=10000

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node openssl flock tar fusermount cmp sha256sum
e2e_init stargz-lazy-restart
W=$E2E_WORK
sock() { echo "$W/sockets/$1.sock"; }
ROOT=$W/state/$SN

registry_start
probe_build

# ---- config, daemon, containerd ----------------------------------------------------------------
# Prefetch and background fetch off: what is cached is only what the containers read.
snaphost_user_config <<EOF
    { use: '$SN', options: { prefetch: { enabled: false }, backgroundFetch: { enabled: false }, mountTimeoutMs: $MOUNT_TIMEOUT_MS } },
    { use: 'overlayfs-native', options: {} },
EOF
PROXY_TOML=$W/proxy-plugins.toml
E2E_CURRENT=containerd-config
if ! snaphost_cli containerd-config --config "$CONFIG" --containerd "${E2E_CONTAINERD:-1}" >"$PROXY_TOML" 2>"$W/containerd-config.err"; then
  e2e_die "snaphost containerd-config failed: $(tail -n 3 "$W/containerd-config.err" | tr '\n' ' ')"
fi

E2E_CURRENT=serve
# Registered first, so it runs last: whatever a failed run left of the FUSE process.
e2e_on_exit fused_stop "$ROOT"
e2e_add_log fused "$ROOT/fused.log"
SERVED=("$(sock "$SN")" "$(sock overlayfs-native)")
start_serving() { # start snaphost and wait until both sockets answer and containerd reaches it
  snaphost_start "$CONFIG"
  snaphost_wait_serving "${SERVED[@]}" || e2e_die "snaphost (start #$SNAPHOST_STARTS) does not serve ${SERVED[*]}"
  [[ -z ${CONTAINERD_PID:-} ]] || ctr_wait_snapshotter "$SN" 30 || e2e_die "containerd cannot reach $SN after start #$SNAPHOST_STARTS"
}
start_serving
e2e_pass serving
containerd_start "$PROXY_TOML"
ctr_wait_snapshotter "$SN" 20 || e2e_die "containerd cannot reach $SN"

E2E_CURRENT=images
esgz_push "$PROBE_OCI" "$PROBE_TAG" snaphost-e2e/probe
PROBE_ESGZ=$REGISTRY/snaphost-e2e/probe:esgz
PROBE_GZIP=$REGISTRY/snaphost-e2e/probe:gzip
mapfile -t PROBE_CHAIN < <(esgz_chain_ids "$PROBE_ESGZ")
[[ ${#PROBE_CHAIN[@]} == 2 ]] || e2e_die "probe:esgz: expected 2 layers, got ${#PROBE_CHAIN[@]}"

E2E_CURRENT=rpull
if out=$(timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter "$SN" "$PROBE_ESGZ" 2>&1); then
  e2e_pass rpull-probe-esgz
else
  e2e_die "rpull $PROBE_ESGZ failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
fi
remote_count() { local n; n=$(fuse_mounts_below "$ROOT" | grep -c .); [[ $n == "$1" ]] || { echo "$n FUSE mounts below $ROOT, expected $1"; return 1; }; }
e2e_check rpull-lazy-two-fuse-mounts remote_count 2
# For (c): the other backend of the daemon, pulled while the registry is up.
out=$(ctr_ images pull --plain-http --snapshotter overlayfs-native "$PROBE_GZIP" 2>&1) || e2e_die "pull $PROBE_GZIP for overlayfs-native failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"

# What every read must give: "PATH SHA256" per probe file.
EXPECTED=$W/expected-sums
{
  echo "/data/victim.bin $(probe_victim_bytes | sha256sum | cut -c1-64)"
  echo "/data/warm.bin $(probe_warm_bytes | sha256sum | cut -c1-64)"
  echo "/data/bystander.txt $(echo "$PROBE_BYSTANDER_TEXT" | sha256sum | cut -c1-64)"
  for i in $(seq -w 1 20); do echo "/data/small/s$i.txt $(echo "small file $i" | sha256sum | cut -c1-64)"; done
  echo "/bin/busybox $(sha256sum </bin/busybox | cut -c1-64)"
} >"$EXPECTED"
PROBE_FILES=$(cut -d' ' -f1 "$EXPECTED" | tr '\n' ' ')

# A new container from the image reads every probe file (one `ctr run --rm`, bounded).
new_container_reads() { # NAME
  local out
  out=$(timeout 120 ctr --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" run --rm --snapshotter "$SN" "$PROBE_ESGZ" "$1-$$" \
    /bin/sh -c "for f in $PROBE_FILES; do echo \"\$f \$(sha256sum <\$f | cut -c1-64)\"; done" 2>&1) || { echo "ctr run: $(tail -n 3 <<<"$out" | tr '\n' ' ')"; return 1; }
  diff <(echo "$out") "$EXPECTED" >/dev/null || { echo "read: $(diff <(echo "$out") "$EXPECTED" | head -n 4 | tr '\n' '|')"; return 1; }
}

snapshots_ls() { ctr_ snapshots --snapshotter "$SN" ls 2>&1 | sort; }
# snaphost's log since its last start.
log_since_start() { awk -v m="===== snaphost start #$SNAPHOST_STARTS " 'index($0, m) == 1 { f = 1 } f' "$SNAPHOST_LOG"; }
# (No `grep -q` at the end of a pipe: it may exit before the producer is done, and under
# pipefail the producer's SIGPIPE would fail the check.)
log_names() { log_since_start | grep -F -- "$1" | grep -F -- "$2" >/dev/null; }

# ---- (a) snaphost restarted under a reading container ------------------------------------------------
E2E_CURRENT=reader
OUT=$W/reader-out
mkdir -p "$OUT"
READER=sgz-reader-$$
# Each pass: "PASS PATH SHA256" per file (an empty checksum when the read failed), errors to errs.
read -r -d '' LOOP <<EOS
i=0
while :; do
  i=\$((i + 1))
  for f in $PROBE_FILES; do echo "\$i \$f \$(sha256sum <\$f | cut -c1-64)"; done >>/out/sums 2>>/out/errs
  sleep 0.1
done
EOS
if out=$(ctr_ run -d --snapshotter "$SN" --mount "type=bind,src=$OUT,dst=/out,options=rbind:rw" "$PROBE_ESGZ" "$READER" /bin/sh -c "$LOOP" 2>&1); then
  e2e_pass reader-started
else
  e2e_die "ctr run -d $READER failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
fi
READER_UP=1
reader_rm() { # the reader's task (killed) and container; non-zero if the container is still there
  [[ $READER_UP == 1 ]] || return 0
  ctr_ tasks rm -f "$READER" >/dev/null 2>&1
  ctr_ containers rm "$READER" >/dev/null 2>&1 || return 1
  READER_UP=0
}
e2e_on_exit reader_rm

passes() { [[ -f $OUT/sums ]] || { echo 0; return; }; tail -n 1 "$OUT/sums" | cut -d' ' -f1; }
# Every line the reader wrote has the right checksum, and it did not log a read error.
reads_right() {
  local bad
  bad=$(awk 'NR == FNR { want[$1] = $2; next } { n++ } $3 != want[$2] { print FNR ": " $0; b++ } END { if (!n) print "no reads" }' "$EXPECTED" "$OUT/sums" | head -n 3)
  [[ -z $bad ]] || { echo "wrong reads: $bad"; return 1; }
  [[ ! -s $OUT/errs ]] || { echo "read errors: $(head -n 3 "$OUT/errs" | tr '\n' '|')"; return 1; }
}
reads_go_on() { # PASSES: the reader completed more passes than PASSES
  local now
  now=$(passes)
  ((${now:-0} > $1))
}

SNAPS=$W/snapshots-before
snapshots_ls >"$SNAPS"
grep -qF "${PROBE_CHAIN[1]}" "$SNAPS" || e2e_die "ctr snapshots ls does not list ${PROBE_CHAIN[1]}: $(tr '\n' '|' <"$SNAPS")"
FUSED_PID=$(fused_pids "$ROOT" | head -n 1)
[[ -n $FUSED_PID ]] || e2e_die "no FUSE-serving process for $ROOT"

# restart_under_reader HOW: stop snaphost (terminate|kill) while the reader reads (the first
# time, right after it started: its first pass is still fetching the 12 MiB file lazily), check
# the reads go on without it, start it again and check the reads, the snapshots, the log and a
# new container.
restart_under_reader() {
  local how=$1 before
  sleep 0.3
  before=$(passes)
  if [[ $how == terminate ]]; then
    snaphost_terminate 20
    if [[ $SNAPHOST_EXIT == 0 ]]; then e2e_pass "$how-snaphost-exit-0"; else e2e_fail "$how-snaphost-exit-0" "exit status ${SNAPHOST_EXIT:-?}"; fi
  else
    snaphost_kill
  fi
  if [[ $(fused_pids "$ROOT" | head -n 1) == "$FUSED_PID" ]]; then e2e_pass "$how-fused-keeps-running"; else e2e_fail "$how-fused-keeps-running" "the FUSE process $FUSED_PID is gone"; fi
  if e2e_wait 30 reads_go_on "$((before + 2))"; then
    e2e_pass "$how-reads-go-on-without-snaphost"
  else
    e2e_fail "$how-reads-go-on-without-snaphost" "the reader stayed at pass $(passes) (was $before)"
  fi
  start_serving
  before=$(passes)
  if e2e_wait 30 reads_go_on "$((before + 2))"; then e2e_pass "$how-reads-go-on-after-restart"; else e2e_fail "$how-reads-go-on-after-restart" "the reader stayed at pass $(passes)"; fi
  e2e_check "$how-reads-right" reads_right
  if diff <(snapshots_ls) "$SNAPS" >/dev/null; then
    e2e_pass "$how-same-snapshots"
  else
    e2e_fail "$how-same-snapshots" "$(diff <(snapshots_ls) "$SNAPS" | head -n 4 | tr '\n' '|')"
  fi
  if log_names 'attached to the running FUSE process' '"unknown":0'; then e2e_pass "$how-attached-logged"; else e2e_fail "$how-attached-logged" "no 'attached to the running FUSE process' line since the restart"; fi
  if log_since_start | grep -F 'could not be restored' >/dev/null; then e2e_fail "$how-nothing-to-restore" "$(log_since_start | grep -F 'could not be restored' | head -n 1)"; else e2e_pass "$how-nothing-to-restore"; fi
  e2e_check "$how-new-container-reads" new_container_reads "sgz-new-$how"
}

E2E_CURRENT=sigterm
restart_under_reader terminate
E2E_CURRENT=sigkill
restart_under_reader kill
e2e_log "the reader completed $(passes) passes over $(wc -w <<<"$PROBE_FILES") files"
reader_rm || e2e_fail reader-removed "could not remove the container $READER"
# From here on, the snapshots are the image's committed ones.
snapshots_ls >"$SNAPS"

# ---- (b) the FUSE-serving process killed: restored at the next start -----------------------------
E2E_CURRENT=restore
kill_fused() {
  local pid k
  # fs.transport "kernel": the connection keeper would start the process again and take its
  # connections over (stargz-lazy-handover.e2e.sh tests that); here it is to die for good.
  for k in $(fused_keeper_pids "$ROOT"); do kill -KILL "$k"; done
  pid=$(jq -r '.pid' "$ROOT/fused.lock" 2>/dev/null)
  [[ $pid =~ ^[0-9]+$ && $(fused_pids "$ROOT" | head -n 1) == "$pid" ]] || e2e_die "fused.lock names '$pid', the FUSE process is $(fused_pids "$ROOT" | tr '\n' ' ')"
  kill -KILL "$pid"
  e2e_wait 10 bash -c "! kill -0 $pid" || e2e_die "the FUSE process $pid did not die"
  e2e_log "killed the FUSE-serving process $pid (SIGKILL)"
}
kill_fused
e2e_check restore-dead-mounts-left remote_count 2 # the kernel keeps them; they answer ENOTCONN
snaphost_terminate 20
start_serving
restored_logged() {
  local c
  for c in "${PROBE_CHAIN[@]}"; do log_names "restored remote snapshot $c" '"snapshot"' || { echo "no 'restored remote snapshot $c' line"; return 1; }; done
  log_names 'restore of remote snapshots: 2 restored, 0 failed' '"restored":2'
}
if e2e_wait 30 restored_logged; then e2e_pass restore-logged; else e2e_fail restore-logged "$(restored_logged)"; fi
if [[ -n $(fused_pids "$ROOT") ]]; then e2e_pass restore-started-fused; else e2e_fail restore-started-fused "no FUSE process runs for $ROOT"; fi
e2e_check restore-two-fuse-mounts remote_count 2
e2e_check restore-new-container-reads new_container_reads sgz-restored
if diff <(snapshots_ls) "$SNAPS" >/dev/null; then e2e_pass restore-same-snapshots; else e2e_fail restore-same-snapshots "$(diff <(snapshots_ls) "$SNAPS" | head -n 4 | tr '\n' '|')"; fi

# ---- (c) a restore that cannot work: reported, bounded, and the daemon still serves --------------
E2E_CURRENT=restore-failure
kill_fused
registry_stop
rm -rf "${ROOT:?}/cache"
snaphost_terminate 20
started=$(date +%s%N)
start_serving
start_ms=$((($(date +%s%N) - started) / 1000000))
if ((start_ms < MOUNT_TIMEOUT_MS)); then e2e_pass failure-start-not-delayed; else e2e_fail failure-start-not-delayed "snaphost served after $start_ms ms (mountTimeoutMs $MOUNT_TIMEOUT_MS)"; fi
failures_logged() {
  local c
  for c in "${PROBE_CHAIN[@]}"; do
    log_since_start | grep -F "remote snapshot $c could not be restored" | grep -E '\((registry-unreachable|timeout)\)' >/dev/null ||
      { echo "no 'remote snapshot $c could not be restored (registry-unreachable|timeout)' line"; return 1; }
  done
  log_names 'restore of remote snapshots: 0 restored, 2 failed' '"failed":2'
}
# Each layer is bounded by mountTimeoutMs, the whole restore by twice that.
if e2e_wait $((2 * MOUNT_TIMEOUT_MS / 1000 + 10)) failures_logged; then
  e2e_pass failure-logged-with-reason
  e2e_log "$(log_since_start | grep -F 'could not be restored' | head -n 1 | jq -r '.msg' 2>/dev/null)"
else
  e2e_fail failure-logged-with-reason "$(failures_logged)"
fi
if diff <(snapshots_ls) "$SNAPS" >/dev/null; then e2e_pass failure-snapshots-stay; else e2e_fail failure-snapshots-stay "$(diff <(snapshots_ls) "$SNAPS" | head -n 4 | tr '\n' '|')"; fi
out=$(ctr_ run --rm --snapshotter overlayfs-native "$PROBE_GZIP" "sgz-ofn-$$" /bin/cat /data/bystander.txt 2>&1)
if [[ $out == "$PROBE_BYSTANDER_TEXT" ]]; then e2e_pass failure-other-backend-serves; else e2e_fail failure-other-backend-serves "got: $(tail -n 3 <<<"$out" | tr '\n' '|')"; fi
started=$(date +%s)
out=$(timeout 90 ctr --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" run --rm --snapshotter "$SN" "$PROBE_ESGZ" "sgz-unrestored-$$" /bin/true 2>&1)
rc=$?
secs=$(($(date +%s) - started))
if [[ $rc != 0 && $rc != 124 ]] && grep -qi 'unavailable' <<<"$out"; then
  e2e_pass failure-ctr-run-fails-cleanly
  e2e_log "ctr run on the unrestored image failed after ${secs}s: $(tail -n 1 <<<"$out")"
else
  e2e_fail failure-ctr-run-fails-cleanly "exit $rc after ${secs}s: $(tail -n 3 <<<"$out" | tr '\n' '|')"
fi
ctr_ containers rm "sgz-unrestored-$$" >/dev/null 2>&1 || true

# ---- the explicit full stop --------------------------------------------------------------------------
E2E_CURRENT=shutdown
containerd_stop
snaphost_terminate 20
if [[ $SNAPHOST_EXIT == 0 ]]; then e2e_pass sigterm-exit-0; else e2e_fail sigterm-exit-0 "snaphost exit status ${SNAPHOST_EXIT:-?}"; fi
pid=$(fused_pids "$ROOT" | head -n 1)
if out=$(snaphost_cli shutdown --config "$CONFIG" --backend "$SN" 2>&1) && [[ -n $pid && $out == "$SN: stopped the FUSE-serving process $pid of $ROOT"* ]]; then
  e2e_pass shutdown-stops-fused
  e2e_log "shutdown: $out"
else
  e2e_fail shutdown-stops-fused "FUSE process '${pid:-none}'; shutdown said: $out"
fi
check_no_leftovers "$ROOT"

e2e_finish
