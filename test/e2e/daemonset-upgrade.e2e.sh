#!/usr/bin/env bash
# End to end for issue 15 item 5, "upgrades and restarts that keep running containers' lazy
# mounts": stargz-lazy with `fusedOnHost` served by a snaphost "pod" whose FUSE-serving process
# must outlive it. The pod is made here as containerd's runc shim makes one for the DaemonSet:
# its own cgroup under every hierarchy (killed as a whole, as the shim kills every process of
# the container's cgroup when its init exits), its own mount namespace (a slave of the node's),
# the backend's root a host directory shared into it at the same path (the DaemonSet's
# Bidirectional hostPath), and the node's mount namespace reached through /proc (hostPID).
#   (a) an eStargz image is pulled lazily; a container reads its 12 MiB file and 20 small
#       files in a loop, checking every checksum; the FUSE-serving process runs in
#       <fusedOnHost.cgroup> under every hierarchy, in none of the pod's cgroups;
#   (b) every process of the pod killed (SIGKILL), the pod started again from the same build:
#       the same FUSE-serving process is attached to (no new one), reads go on throughout, a
#       new lazy pull works;
#   (c) the pod replaced (SIGTERM) by snaphost built from a NEWER COMMIT (a temporary clone
#       with a change to fused: another runtime content id): a second generation starts, the
#       first keeps serving the reader's layers, an image removed and pulled again is unmounted
#       through the old generation and mounted on the new one, status reports each process's
#       generation and protocol;
#   (d) full teardown: containers and images removed -> the old generation exits on its own
#       and its runtime copy goes; pod stopped, `snaphost shutdown`: no FUSE mount, no
#       FUSE-serving process and no runtime copy left.
#   bash test/e2e/daemonset-upgrade.e2e.sh     (root; needs `npm run build` and scripts/install-deps.sh)
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
CTR_NAMESPACE=snaphost-e2e-upgrade
IDLE_EXIT_MS=3000

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node openssl flock tar fusermount sha256sum git unshare nsenter setsid
e2e_init daemonset-upgrade
W=$E2E_WORK
ROOT=$W/state/$SN
POD_CG=snaphost-e2e-pod-$$
FUSED_CG=snaphost-e2e-fused-$$
mapfile -t CG_MOUNTS < <(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break; if ($(i + 1) ~ /^cgroup2?$/ && !seen[$3]++) print $5 }' /proc/self/mountinfo)
[[ ${#CG_MOUNTS[@]} -gt 0 ]] || e2e_die "no cgroup hierarchy is mounted"

registry_start
probe_build
transfer_build

# ---- the pod ------------------------------------------------------------------------------------
# The backend's root, shared (the node side of a Bidirectional hostPath): FUSE mounts made on the
# node show in the pod's mount namespace.
mkdir -p "$W/state"
mount --bind "$W/state" "$W/state" && mount --make-rshared "$W/state" || e2e_die "cannot make $W/state a shared mount"
for mp in "${CG_MOUNTS[@]}"; do
  mkdir -p "$mp/$POD_CG" || e2e_die "cannot make the pod cgroup $mp/$POD_CG"
  if [[ -f $mp/cpuset.cpus ]]; then cat "$mp/cpuset.cpus" >"$mp/$POD_CG/cpuset.cpus" && cat "$mp/cpuset.mems" >"$mp/$POD_CG/cpuset.mems"; fi
done
POD_PROCS=${CG_MOUNTS[0]}/$POD_CG/cgroup.procs
pod_pids() { cat "$POD_PROCS" 2>/dev/null; }
# The shim's kill: every process of the pod's cgroup, until none is left.
pod_kill() {
  local i p
  for ((i = 0; i < 100; i++)); do
    [[ -n $(pod_pids) ]] || return 0
    for p in $(pod_pids); do kill -KILL "$p" 2>/dev/null; done
    sleep 0.05
  done
  return 1
}
# A graceful stop: SIGTERM to the pod's init (snaphost), then the shim's kill of what is left.
pod_stop() {
  local i
  [[ -n ${POD_PID:-} ]] && kill -TERM "$POD_PID" 2>/dev/null
  for ((i = 0; i < 200; i++)); do kill -0 "${POD_PID:-0}" 2>/dev/null || break; sleep 0.1; done
  pod_kill
}
POD_STARTS=0
POD_LOG=$W/pod.log
# pod_start CLI: `snaphost serve` of the build CLI belongs to (dist/core/cli/snaphost.js) in the pod.
pod_start() {
  local cli=$1 mp cgs=()
  POD_STARTS=$((POD_STARTS + 1))
  for mp in "${CG_MOUNTS[@]}"; do cgs+=("$mp/$POD_CG/cgroup.procs"); done
  echo "===== pod start #$POD_STARTS $(date +%T.%N) $cli" >>"$POD_LOG"
  setsid bash -c 'for f in "${@:3}"; do echo $$ >"$f" || exit 97; done; exec unshare --mount --propagation slave node "$1" serve --config "$2" --log-level debug' \
    pod "$cli" "$CONFIG" "${cgs[@]}" >>"$POD_LOG" 2>&1 </dev/null &
  POD_PID=$!
  SNAPHOST_PID=$POD_PID # for snaphost_wait_serving
  snaphost_wait_serving "$SOCK" || e2e_die "the snaphost pod (start #$POD_STARTS) does not serve $SOCK: $(tail -n 5 "$POD_LOG" | tr '\n' ' ')"
  [[ -z ${CONTAINERD_PID:-} ]] || ctr_wait_snapshotter "$SN" 30 || e2e_die "containerd cannot reach $SN after pod start #$POD_STARTS"
}
cleanup_pod() {
  local mp
  pod_kill
  for root in "$ROOT" "$ROOT"/generations/*; do [[ -d $root ]] && fused_stop "$root"; done
  umount -l "$W/state" 2>/dev/null
  for mp in "${CG_MOUNTS[@]}"; do rmdir "$mp/$POD_CG" "$mp/$FUSED_CG" 2>/dev/null; done
  return 0
}
e2e_on_exit cleanup_pod

snaphost_user_config <<EOF
    { use: '$SN', options: { prefetch: { enabled: false }, backgroundFetch: { enabled: false }, fusedIdleExitMs: $IDLE_EXIT_MS,
      fusedOnHost: { enabled: true, mountNamespace: '/proc/$$/ns/mnt', cgroup: '$FUSED_CG' } } },
EOF
SOCK=$W/sockets/$SN.sock
snaphost_proxy_toml
E2E_CURRENT=serve
pod_start "$SNAPHOST_CLI"
e2e_add_log pod "$POD_LOG"
containerd_start "$PROXY_TOML"
ctr_wait_snapshotter "$SN" 20 || e2e_die "containerd cannot reach $SN"

generations() { ls "$ROOT/generations" 2>/dev/null; }
gen_pid() { jq -r '.pid' "$ROOT/generations/$1/fused.lock" 2>/dev/null; }
gen_get() { curl -sS --max-time 5 --unix-socket "$ROOT/generations/$1/fused.sock" "http://fused$2"; }
gen_mounts() { gen_get "$1" /v1/mounts | jq '.mounts | length'; }
GEN1=$(generations)
[[ $GEN1 =~ ^[0-9a-f]{16}$ ]] || e2e_die "expected one generation under $ROOT/generations, got: $GEN1"
FUSED1=$(gen_pid "$GEN1")
in_fused_cgroup() { # PID: in $FUSED_CG under every hierarchy, in no cgroup of the pod
  local pid=$1 n
  n=$(grep -c . "/proc/$pid/cgroup")
  [[ $(grep -c ":/$FUSED_CG\$" "/proc/$pid/cgroup") == "$n" ]] || { echo "cgroups of $pid: $(tr '\n' ' ' <"/proc/$pid/cgroup")"; return 1; }
  ! grep -q "$POD_CG" "/proc/$pid/cgroup" || { echo "$pid is still in the pod's cgroups"; return 1; }
}
e2e_check fused-out-of-pod-cgroups in_fused_cgroup "$FUSED1"
runs_from_copy() { [[ $(readlink "/proc/$1/exe") == "$ROOT/runtime/$2/node" ]] || { echo "$1 runs $(readlink "/proc/$1/exe")"; return 1; }; }
e2e_check fused-runs-from-runtime-copy runs_from_copy "$FUSED1" "$GEN1"

E2E_CURRENT=images
esgz_push "$PROBE_OCI" "$PROBE_TAG" snaphost-e2e/probe
esgz_push "$TRANSFER_OCI" "$TRANSFER_TAG" snaphost-e2e/transfer
PROBE_ESGZ=$REGISTRY/snaphost-e2e/probe:esgz
TRANSFER_ESGZ=$REGISTRY/snaphost-e2e/transfer:esgz
rpull() { local out; out=$(timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter "$SN" "$1" 2>&1) || { echo "rpull $1: $(tail -n 3 <<<"$out" | tr '\n' ' ')"; return 1; }; }
e2e_check rpull-probe rpull "$PROBE_ESGZ"

EXPECTED=$W/expected-sums
{
  echo "/data/victim.bin $(probe_victim_bytes | sha256sum | cut -c1-64)"
  echo "/data/bystander.txt $(echo "$PROBE_BYSTANDER_TEXT" | sha256sum | cut -c1-64)"
  for i in $(seq -w 1 20); do echo "/data/small/s$i.txt $(echo "small file $i" | sha256sum | cut -c1-64)"; done
} >"$EXPECTED"
PROBE_FILES=$(cut -d' ' -f1 "$EXPECTED" | tr '\n' ' ')
TRANSFER_SUM="$(transfer_payload_bytes | sha256sum | cut -c1-64) $TRANSFER_HELLO_TEXT"
# A new lazy pull of the transfer image and a new container reading it.
transfer_pull_reads() {
  local out
  rpull "$TRANSFER_ESGZ" || return 1
  out=$(ctr_ run --rm --snapshotter "$SN" "$TRANSFER_ESGZ" "sgz-transfer-$1-$$" /bin/sh -c 'echo "$(sha256sum </transfer/payload.bin | cut -c1-64) $(cat /transfer/hello.txt)"' 2>&1) || { echo "ctr run: $(tail -n 3 <<<"$out" | tr '\n' ' ')"; return 1; }
  [[ $out == "$TRANSFER_SUM" ]] || { echo "read: $out"; return 1; }
}

# ---- (a) a container reading lazily pulled files ---------------------------------------------------
E2E_CURRENT=reader
OUT=$W/reader-out
mkdir -p "$OUT"
READER=sgz-upgrade-reader-$$
read -r -d '' LOOP <<EOS
i=0
while :; do
  i=\$((i + 1))
  for f in $PROBE_FILES; do echo "\$i \$f \$(sha256sum <\$f | cut -c1-64)"; done >>/out/sums 2>>/out/errs
  sleep 0.1
done
EOS
out=$(ctr_ run -d --snapshotter "$SN" --mount "type=bind,src=$OUT,dst=/out,options=rbind:rw" "$PROBE_ESGZ" "$READER" /bin/sh -c "$LOOP" 2>&1) ||
  e2e_die "ctr run -d $READER failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
e2e_pass reader-started
reader_rm() { ctr_ tasks rm -f "$READER" >/dev/null 2>&1; ctr_ containers rm "$READER" >/dev/null 2>&1; return 0; }
e2e_on_exit reader_rm
passes() { [[ -f $OUT/sums ]] || { echo 0; return; }; tail -n 1 "$OUT/sums" | cut -d' ' -f1; }
reads_go_on() { local now; now=$(passes); ((${now:-0} > $1)); }
reads_right() {
  local bad
  bad=$(awk 'NR == FNR { want[$1] = $2; next } { n++ } $3 != want[$2] { print FNR ": " $0 } END { if (!n) print "no reads" }' "$EXPECTED" "$OUT/sums" | head -n 3)
  [[ -z $bad ]] || { echo "wrong reads: $bad"; return 1; }
  [[ ! -s $OUT/errs ]] || { echo "read errors: $(head -n 3 "$OUT/errs" | tr '\n' '|')"; return 1; }
}
e2e_wait 60 reads_go_on 1 || e2e_die "the reader did not complete a pass: $(tail -n 3 "$OUT/errs" 2>/dev/null)"
e2e_check reads-right reads_right

# ---- (b) the pod killed, started again from the same build -----------------------------------------
E2E_CURRENT=kill
before=$(passes)
pod_kill || e2e_die "the pod's processes do not die"
if kill -0 "$FUSED1" 2>/dev/null; then e2e_pass kill-fused-survives; else e2e_fail kill-fused-survives "the FUSE-serving process $FUSED1 died with the pod"; fi
if e2e_wait 30 reads_go_on "$((before + 2))"; then e2e_pass kill-reads-go-on-without-pod; else e2e_fail kill-reads-go-on-without-pod "the reader stayed at pass $(passes)"; fi
pod_start "$SNAPHOST_CLI"
same_process() { [[ $(generations) == "$GEN1" && $(gen_pid "$GEN1") == "$FUSED1" ]] || { echo "generations: $(generations | tr '\n' ' '), pid $(gen_pid "$GEN1") (was $FUSED1)"; return 1; }; }
e2e_check restart-same-fused same_process
before=$(passes)
if e2e_wait 30 reads_go_on "$((before + 2))"; then e2e_pass restart-reads-go-on; else e2e_fail restart-reads-go-on "the reader stayed at pass $(passes)"; fi
e2e_check restart-new-lazy-pull transfer_pull_reads restart
e2e_check restart-reads-right reads_right

# ---- (c) replaced by a build from a newer commit -----------------------------------------------------
E2E_CURRENT=upgrade
NEWER=$W/newer
{
  git clone -q --no-checkout "$REPO_ROOT" "$NEWER" &&
    git -C "$NEWER" checkout -q "$(git -C "$REPO_ROOT" rev-parse HEAD)" &&
    echo "// upgrade test $$: a newer fused" >>"$NEWER/backends/stargz-lazy/fused/main.ts" &&
    git -C "$NEWER" -c user.name=e2e -c user.email=e2e@invalid commit -qam "a newer fused" &&
    ln -s "$REPO_ROOT/node_modules" "$NEWER/node_modules" &&
    (cd "$NEWER" && timeout 300 npx tsc -p tsconfig.json)
} >"$W/newer-build.log" 2>&1 || e2e_die "building the newer commit failed: $(tail -n 5 "$W/newer-build.log" | tr '\n' ' ')"
e2e_log "built $(git -C "$NEWER" rev-parse --short HEAD) in $NEWER"
before=$(passes)
pod_stop || e2e_die "the pod's processes do not die"
pod_start "$NEWER/dist/core/cli/snaphost.js"
GEN2=$(generations | grep -vx "$GEN1")
[[ $GEN2 =~ ^[0-9a-f]{16}$ ]] || e2e_die "expected a second generation, got: $(generations | tr '\n' ' ')"
FUSED2=$(gen_pid "$GEN2")
e2e_log "generation $GEN1 (pid $FUSED1) -> $GEN2 (pid $FUSED2)"
if kill -0 "$FUSED1" 2>/dev/null && [[ $FUSED2 != "$FUSED1" ]]; then e2e_pass upgrade-old-generation-serves; else e2e_fail upgrade-old-generation-serves "old $FUSED1 alive? new $FUSED2"; fi
e2e_check upgrade-new-fused-out-of-pod-cgroups in_fused_cgroup "$FUSED2"
status_says() { # GEN: its status names it, protocol 1
  local s
  s=$(gen_get "$1" /v1/status) || { echo "no status from $1"; return 1; }
  [[ $(jq -r '"\(.generation) \(.protocol)"' <<<"$s") == "$1 1" ]] || { echo "status of $1: $s"; return 1; }
}
e2e_check upgrade-status-generation-old status_says "$GEN1"
e2e_check upgrade-status-generation-new status_says "$GEN2"
if e2e_wait 30 reads_go_on "$((before + 2))"; then e2e_pass upgrade-reads-go-on; else e2e_fail upgrade-reads-go-on "the reader stayed at pass $(passes)"; fi
# The transfer image's layers are the old generation's: removed through it, pulled again onto the new one.
old_before=$(gen_mounts "$GEN1")
ctr_ images rm --sync "$TRANSFER_ESGZ" >/dev/null 2>&1
ctr_gc "$PROBE_ESGZ"
unmounted_from_old() { [[ $(gen_mounts "$GEN1") == 2 ]] || { echo "the old generation serves $(gen_mounts "$GEN1") layers (was $old_before, the probe has 2)"; return 1; }; }
if e2e_wait 20 unmounted_from_old; then e2e_pass upgrade-unmount-routed-to-old; else e2e_fail upgrade-unmount-routed-to-old "$(unmounted_from_old)"; fi
e2e_check upgrade-new-lazy-pull transfer_pull_reads upgrade
on_new() { [[ $(gen_mounts "$GEN2") -ge 2 ]] || { echo "the new generation serves $(gen_mounts "$GEN2") layers"; return 1; }; }
e2e_check upgrade-new-pull-on-new-generation on_new
e2e_check upgrade-reads-right reads_right
e2e_log "the reader completed $(passes) passes"

# ---- (d) full teardown ---------------------------------------------------------------------------------
E2E_CURRENT=teardown
reader_rm
ctr_ images rm --sync "$PROBE_ESGZ" "$TRANSFER_ESGZ" >/dev/null 2>&1
ctr_rm_all_snapshots "$SN" || e2e_fail teardown-snapshots-removed "$(ctr_ snapshots --snapshotter "$SN" ls | tail -n +2 | tr '\n' '|')"
old_gone() { ! kill -0 "$FUSED1" 2>/dev/null && [[ ! -e $ROOT/runtime/$GEN1 ]] || { echo "old generation: pid $FUSED1 alive? runtime: $(ls "$ROOT/runtime" | tr '\n' ' ')"; return 1; }; }
if e2e_wait $((IDLE_EXIT_MS / 1000 + 20)) old_gone; then e2e_pass teardown-old-generation-exits-and-goes; else e2e_fail teardown-old-generation-exits-and-goes "$(old_gone)"; fi
pod_stop
if out=$(timeout 60 node "$NEWER/dist/core/cli/snaphost.js" shutdown --config "$CONFIG" 2>&1); then
  e2e_pass teardown-shutdown
  e2e_log "$out"
else
  e2e_fail teardown-shutdown "$out"
fi
umount "$W/state" 2>/dev/null || umount -l "$W/state"
nothing_left() {
  local left='' g
  for g in "$FUSED1" "$FUSED2"; do kill -0 "$g" 2>/dev/null && left+=" process $g"; done
  left+=$(fuse_mounts_below "$W" | sed 's/^/ mount /' | tr '\n' ' ')
  [[ -z $(ls -A "$ROOT/runtime" 2>/dev/null) ]] || left+=" runtime: $(ls -A "$ROOT/runtime" | tr '\n' ' ')"
  [[ -z $(ls -A "$ROOT/generations" 2>/dev/null) ]] || left+=" generations: $(ls -A "$ROOT/generations" | tr '\n' ' ')"
  [[ -z $(pod_pids) ]] || left+=" pod processes: $(pod_pids | tr '\n' ' ')"
  [[ -z $left ]] || { echo "$left"; return 1; }
}
# A process that went idle exits on its own during the stop: a moment until it is gone (and reaped).
if e2e_wait 10 nothing_left; then e2e_pass teardown-nothing-left; else e2e_fail teardown-nothing-left "$(nothing_left)"; fi
check_no_leftovers "$ROOT" "$ROOT/generations/$GEN1" "$ROOT/generations/$GEN2"
e2e_finish
