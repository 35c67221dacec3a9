#!/usr/bin/env bash
# End to end for issue 15 item 5, "upgrades and restarts that keep running containers' lazy
# mounts": the snaphost image run as the DaemonSet's pod (lib/daemonset.sh: `ctr run` exactly as
# deploy/kubernetes says: privileged, hostPID, the host paths at the same path, Bidirectional
# propagation, the deploy config, whose stargz-lazy runs its FUSE-serving process on the node
# with `fusedOnHost`), on a private containerd that plays the node's.
#   (a) an eStargz image is pulled lazily through the pod; a container reads its 12 MiB file and
#       20 small files in a loop, checking every checksum; the FUSE-serving process runs from
#       its runtime copy, in <fusedOnHost.cgroup> under every hierarchy, in none of the pod's;
#   (b) the pod's container killed (SIGKILL: containerd's shim kills every process of its
#       cgroup) and started again from the same image: the same FUSE-serving process is
#       attached to (no new one), reads go on throughout, a new lazy pull works;
#   (c) the pod replaced (SIGTERM, as a rolling update does) by the image built from a NEWER
#       COMMIT (a temporary clone with a change to fused: another runtime content id): a second
#       generation starts, the first keeps serving the reader's layers, an image removed and
#       pulled again is unmounted through the old generation and mounted on the new one, status
#       reports each process's generation and protocol;
#   (d) full teardown: containers and images removed -> the old generation exits on its own
#       and its runtime copy goes; pod stopped, `snaphost shutdown`: no FUSE mount, no
#       FUSE-serving process and no runtime copy left.
#   bash test/e2e/daemonset-upgrade.e2e.sh     (root; needs `npm run build` and scripts/install-deps.sh)
# Env: E2E_DS_IMAGE_LAYOUT=DIR: the first image from a layout built before (tag e2e).
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
. "$E2E_LIB/daemonset.sh"

SN=stargz-lazy
CTR_NAMESPACE=snaphost-e2e-upgrade
MAJOR=$(containerd_major)

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node openssl flock tar fusermount sha256sum git strip
# A short name: the deepest socket, <prefix>/var/lib/snaphost/stargz-lazy/generations/<id>/fused.sock, must fit in 107 bytes.
e2e_init ds-upgrade
W=$E2E_WORK

registry_start
probe_build
transfer_build
ds_setup
ROOT=$DS_ROOT_DIR/$SN
FUSED_CG=$DS_FUSED_CGROUP
POD_CG=$DS_ID
cleanup_fused() {
  local mp root
  for root in "$ROOT" "$ROOT"/generations/*; do [[ -d $root ]] && fused_stop "$root"; done
  while read -r mp; do rmdir "$mp/$FUSED_CG" 2>/dev/null; done < <(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break; if ($(i + 1) ~ /^cgroup2?$/) print $5 }' /proc/self/mountinfo)
  return 0
}
e2e_on_exit cleanup_fused
ds_containerd_toml "$MAJOR" >"$W/snaphost-drop-in.toml"
containerd_start "$W/snaphost-drop-in.toml"
ds_link_containerd

E2E_CURRENT=image
IMAGE_REPO=$REGISTRY/snaphost/snaphost
# build_image CHECKOUT TAG: scripts/build-image.sh of CHECKOUT, pushed as $IMAGE_REPO:TAG; prints the pinned reference.
build_image() {
  local ref start=$SECONDS
  ref=$(bash "$1/scripts/build-image.sh" --out "$W/image-$2" --tag e2e --push "$IMAGE_REPO:$2" 2>"$W/build-image-$2.log" | tail -n 1)
  [[ $ref == "$IMAGE_REPO@sha256:"* ]] || e2e_die "build-image.sh of $1 did not print $IMAGE_REPO@sha256:...: '$ref' $(tail -n 3 "$W/build-image-$2.log" | tr '\n' ' ')"
  e2e_log "image $2 built and pushed in $((SECONDS - start)) s: $ref"
  echo "$ref"
}
if [[ -n ${E2E_DS_IMAGE_LAYOUT:-} ]]; then
  skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$E2E_DS_IMAGE_LAYOUT:e2e" "docker://$IMAGE_REPO:old" >"$W/push.log" 2>&1 ||
    e2e_die "cannot push $E2E_DS_IMAGE_LAYOUT: $(tail -n 3 "$W/push.log" | tr '\n' ' ')"
  OLD_IMAGE=$IMAGE_REPO@$(skopeo inspect --raw --tls-verify=false "docker://$IMAGE_REPO:old" | sha256sum | cut -d' ' -f1 | sed 's/^/sha256:/')
else
  OLD_IMAGE=$(build_image "$REPO_ROOT" old)
fi
e2e_check old-image-pulled ds_pull "$OLD_IMAGE"

E2E_CURRENT=serve
pod_start() { # IMAGE
  ds_start "$1" || e2e_die "ctr run of the pod ($1) failed"
  ds_wait_ready 120 || e2e_die "the pod ($1) is not ready within 120 s"
  ctr_wait_snapshotter "$SN" 30 || e2e_die "containerd cannot reach $SN after pod start #$DS_STARTS"
}
pod_start "$OLD_IMAGE"
e2e_pass pod-ready

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
ds_stop
if kill -0 "$FUSED1" 2>/dev/null; then e2e_pass kill-fused-survives; else e2e_fail kill-fused-survives "the FUSE-serving process $FUSED1 died with the pod"; fi
if e2e_wait 30 reads_go_on "$((before + 2))"; then e2e_pass kill-reads-go-on-without-pod; else e2e_fail kill-reads-go-on-without-pod "the reader stayed at pass $(passes)"; fi
pod_start "$OLD_IMAGE"
same_process() { [[ $(generations) == "$GEN1" && $(gen_pid "$GEN1") == "$FUSED1" ]] || { echo "generations: $(generations | tr '\n' ' '), pid $(gen_pid "$GEN1") (was $FUSED1)"; return 1; }; }
e2e_check restart-same-fused same_process
before=$(passes)
if e2e_wait 30 reads_go_on "$((before + 2))"; then e2e_pass restart-reads-go-on; else e2e_fail restart-reads-go-on "the reader stayed at pass $(passes)"; fi
e2e_check restart-new-lazy-pull transfer_pull_reads restart
e2e_check restart-reads-right reads_right

# ---- (c) replaced by the image of a newer commit -------------------------------------------------
E2E_CURRENT=upgrade
NEWER=$W/newer
{
  git clone -q --no-checkout "$REPO_ROOT" "$NEWER" &&
    git -C "$NEWER" checkout -q "$(git -C "$REPO_ROOT" rev-parse HEAD)" &&
    echo "// upgrade test $$: a newer fused" >>"$NEWER/backends/stargz-lazy/fused/main.ts" &&
    git -C "$NEWER" -c user.name=e2e -c user.email=e2e@invalid commit -qam "a newer fused" &&
    ln -s "$REPO_ROOT/node_modules" "$NEWER/node_modules" &&
    (cd "$NEWER" && timeout 300 npx tsc -p tsconfig.json) &&
    rm "$NEWER/node_modules"
} >"$W/newer-build.log" 2>&1 || e2e_die "building the newer commit failed: $(tail -n 5 "$W/newer-build.log" | tr '\n' ' ')"
NEW_IMAGE=$(build_image "$NEWER" newer)
e2e_check new-image-pulled ds_pull "$NEW_IMAGE"
before=$(passes)
ds_graceful_stop
if [[ $DS_EXIT == 0 ]]; then e2e_pass upgrade-old-pod-exit-0; else e2e_fail upgrade-old-pod-exit-0 "exit ${DS_EXIT:-?}"; fi
pod_start "$NEW_IMAGE"
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

# ---- (d) full teardown -----------------------------------------------------------------------------------
E2E_CURRENT=teardown
reader_rm
ctr_ images rm --sync "$PROBE_ESGZ" "$TRANSFER_ESGZ" >/dev/null 2>&1
ctr_rm_all_snapshots "$SN" || e2e_fail teardown-snapshots-removed "$(ctr_ snapshots --snapshotter "$SN" ls | tail -n +2 | tr '\n' '|')"
# The old generation, let go, exits after fusedIdleExitMs (30 s); its copy goes 5 s later.
old_gone() { ! kill -0 "$FUSED1" 2>/dev/null && [[ ! -e $ROOT/runtime/$GEN1 ]] || { echo "old generation: pid $FUSED1 alive? runtime: $(ls "$ROOT/runtime" | tr '\n' ' ')"; return 1; }; }
if e2e_wait 90 old_gone; then e2e_pass teardown-old-generation-exits-and-goes; else e2e_fail teardown-old-generation-exits-and-goes "$(old_gone)"; fi
ds_graceful_stop
# `snaphost shutdown` on the node for the pod's stargz-lazy root (the daemon is gone).
mkdir -p "$W/node_modules" && ln -sfn "$NEWER" "$W/node_modules/snaphost"
cat >"$W/shutdown.config.ts" <<EOF
import { defineConfig } from 'snaphost';
export default defineConfig({ socketDir: '$W/shutdown-sockets', rootDir: '$DS_ROOT_DIR', backends: [{ use: '$SN', name: '$SN', options: {} }] });
EOF
ln -s "$REPO_ROOT/node_modules" "$NEWER/node_modules"
if out=$(timeout 60 node "$NEWER/dist/core/cli/snaphost.js" shutdown --config "$W/shutdown.config.ts" 2>&1); then
  e2e_pass teardown-shutdown
  e2e_log "$out"
else
  e2e_fail teardown-shutdown "$out"
fi
nothing_left() {
  local left='' g
  for g in "$FUSED1" "$FUSED2" $(fused_pids "$ROOT") $(fused_pids "$ROOT/generations/$GEN1") $(fused_pids "$ROOT/generations/$GEN2"); do kill -0 "$g" 2>/dev/null && left+=" process $g"; done
  left+=$(fuse_mounts_below "$W" | sed 's/^/ mount /' | tr '\n' ' ')
  [[ -z $(ls -A "$ROOT/runtime" 2>/dev/null) ]] || left+=" runtime: $(ls -A "$ROOT/runtime" | tr '\n' ' ')"
  [[ -z $(ls -A "$ROOT/generations" 2>/dev/null) ]] || left+=" generations: $(ls -A "$ROOT/generations" | tr '\n' ' ')"
  ! ds_running || left+=" the pod runs"
  [[ -z $left ]] || { echo "$left"; return 1; }
}
# A process that went idle exits on its own during the stop: a moment until it is gone (and reaped).
if e2e_wait 10 nothing_left; then e2e_pass teardown-nothing-left; else e2e_fail teardown-nothing-left "$(nothing_left)"; fi
e2e_finish
