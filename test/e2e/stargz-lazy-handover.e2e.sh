#!/usr/bin/env bash
# End to end for "FUSE connections outlive the FUSE process" (issue 17, item 3) with the
# `stargz-lazy` backend on fs.transport "kernel": one `snaphost serve`, a private containerd 1.6,
# the probe image (lib/estargz-images.sh: busybox + a data layer with a 12 MiB file of three
# eStargz chunks) pulled lazily with `ctr-remote image rpull`.
#   - the FUSE-serving process runs under the connection keeper (its parent runs keeper/main.js);
#   - a running container reads the 12 MiB file while the registry is frozen (SIGSTOP), so the
#     read waits inside the FUSE-serving process; that process is SIGKILLed, the registry thawed:
#     the container's read completes with the right bytes (sha256), no ENOTCONN, no EIO;
#   - the keeper started the process again and it took the connections over (its log says so);
#     the layer mounts are the same; a new container reads right;
#   - `snaphost shutdown` stops keeper and process; nothing is left.
#   bash test/e2e/stargz-lazy-handover.e2e.sh     (root, Linux >= 6.9; needs `npm run build`)
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
CTR_NAMESPACE=snaphost-e2e-sgz-handover
export E2E_FS_TRANSPORT=kernel

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node openssl flock tar fusermount cmp sha256sum
e2e_init stargz-lazy-handover
IFS=. read -r kmaj kmin _ <<<"$(uname -r)"
if ((kmaj < 6 || (kmaj == 6 && kmin < 9))); then
  e2e_log "Linux $(uname -r) has no FUSE_NOTIFY_RESEND (6.9): nothing to test here"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
W=$E2E_WORK
sock() { echo "$W/sockets/$1.sock"; }
ROOT=$W/state/$SN

registry_start
probe_build

# Prefetch and background fetch off: what the container reads is fetched when it reads it.
snaphost_user_config <<CONFIG_EOF
    { use: '$SN', options: { prefetch: { enabled: false }, backgroundFetch: { enabled: false } } },
CONFIG_EOF
PROXY_TOML=$W/proxy-plugins.toml
E2E_CURRENT=containerd-config
snaphost_cli containerd-config --config "$CONFIG" --containerd "${E2E_CONTAINERD:-1}" >"$PROXY_TOML" 2>"$W/containerd-config.err" ||
  e2e_die "snaphost containerd-config failed: $(tail -n 3 "$W/containerd-config.err" | tr '\n' ' ')"

E2E_CURRENT=serve
REGISTRY_FROZEN=0
thaw_registry() {
  if [[ $REGISTRY_FROZEN == 1 ]]; then kill -CONT "$REGISTRY_PID" 2>/dev/null; fi
  REGISTRY_FROZEN=0
  return 0
}
e2e_on_exit fused_stop "$ROOT"
e2e_on_exit thaw_registry
e2e_add_log fused "$ROOT/fused.log"
snaphost_start "$CONFIG"
snaphost_wait_serving "$(sock "$SN")" || e2e_die "snaphost does not serve $(sock "$SN")"
containerd_start "$PROXY_TOML"
ctr_wait_snapshotter "$SN" 20 || e2e_die "containerd cannot reach $SN"

E2E_CURRENT=rpull
esgz_push "$PROBE_OCI" "$PROBE_TAG" snaphost-e2e/probe
PROBE_ESGZ=$REGISTRY/snaphost-e2e/probe:esgz
out=$(timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter "$SN" "$PROBE_ESGZ" 2>&1) ||
  e2e_die "rpull $PROBE_ESGZ failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
e2e_pass rpull-probe-esgz

# The FUSE-serving process, when its parent is its keeper.
served_pid() {
  local p keeper
  keeper=$(fused_keeper_pids "$ROOT" | head -n 1)
  for p in $(fused_pids "$ROOT"); do
    if [[ -n $keeper && $(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null) == "$keeper" ]]; then
      echo "$p"
      return 0
    fi
  done
  return 1
}
FIRST=$(served_pid) || e2e_die "no FUSE-serving process under the keeper: $(fused_pids "$ROOT" | tr '\n' ' ')"
e2e_pass fused-under-keeper
MOUNTS_BEFORE=$(fuse_mounts_below "$ROOT" | sort)

E2E_CURRENT=handover
WANT=$(probe_victim_bytes | sha256sum | cut -c1-64)
READ_OUT=$W/read-out
GO=$W/go
mkdir -p "$GO"
# The container starts with the registry up (containerd 2.x checks the layers' registry when a
# container starts), says it is ready, and reads the 12 MiB file once told to.
(
  timeout 120 ctr --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" run --rm --snapshotter "$SN" \
    --mount "type=bind,src=$GO,dst=/go,options=rbind:rw" "$PROBE_ESGZ" "sgz-dd-$$" \
    /bin/sh -c 'touch /go/ready; while [ ! -e /go/read ]; do sleep 0.1; done; dd if=/data/victim.bin bs=65536 2>/dev/null | sha256sum | cut -c1-64' >"$READ_OUT" 2>&1
  echo "rc=$?" >>"$READ_OUT"
) &
READER=$!
e2e_wait 60 test -e "$GO/ready" || e2e_die "the reading container did not start: $(tr '\n' ' ' <"$READ_OUT")"
kill -STOP "$REGISTRY_PID" && REGISTRY_FROZEN=1
touch "$GO/read"
# dd's reads now wait inside the FUSE-serving process for the frozen registry.
sleep 3
kill -0 "$READER" 2>/dev/null || e2e_die "the reading container ended while the registry was frozen: $(tr '\n' ' ' <"$READ_OUT")"
kill -KILL "$FIRST"
e2e_log "SIGKILL to the FUSE-serving process $FIRST with the container's reads in flight"
sleep 1
thaw_registry
wait "$READER"
if [[ $(head -n 1 "$READ_OUT") == "$WANT" && $(tail -n 1 "$READ_OUT") == rc=0 ]]; then
  e2e_pass read-completes-right-bytes
else
  e2e_fail read-completes-right-bytes "want $WANT, the container said: $(tr '\n' ' ' <"$READ_OUT")"
fi
SECOND=$(served_pid)
if [[ -n $SECOND && $SECOND != "$FIRST" ]]; then e2e_pass keeper-restarted-fused; else e2e_fail keeper-restarted-fused "FUSE-serving process now '${SECOND:-none}' (was $FIRST)"; fi
if grep -F 'took the layer connections of the previous process over' "$ROOT/fused.log" | grep -F '"taken":2' >/dev/null; then
  e2e_pass connections-taken-over
else
  e2e_fail connections-taken-over "$(grep -F -e 'take-over' -e 'keeper' "$ROOT/fused.log" | tail -n 3 | cut -c1-300 | tr '\n' '|')"
fi
if [[ $(fuse_mounts_below "$ROOT" | sort) == "$MOUNTS_BEFORE" ]]; then e2e_pass same-mounts; else e2e_fail same-mounts "$(fuse_mounts_below "$ROOT" | tr '\n' ' ')"; fi
out=$(timeout 120 ctr --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" run --rm --snapshotter "$SN" "$PROBE_ESGZ" "sgz-new-$$" \
  /bin/sh -c 'sha256sum </data/victim.bin | cut -c1-64; cat /data/bystander.txt' 2>&1)
if [[ $out == "$WANT"$'\n'"$PROBE_BYSTANDER_TEXT" ]]; then e2e_pass new-container-reads; else e2e_fail new-container-reads "got: $(tail -n 3 <<<"$out" | tr '\n' '|')"; fi

E2E_CURRENT=shutdown
containerd_stop
snaphost_terminate 20
if out=$(snaphost_cli shutdown --config "$CONFIG" --backend "$SN" 2>&1) && [[ $out == "$SN: stopped the FUSE-serving process $SECOND of $ROOT"* ]]; then
  e2e_pass shutdown-stops-fused
else
  e2e_fail shutdown-stops-fused "shutdown said: $out"
fi
if [[ -z $(fused_keeper_pids "$ROOT") ]]; then e2e_pass keeper-gone; else e2e_fail keeper-gone "still running: $(fused_keeper_pids "$ROOT" | tr '\n' ' ')"; fi
check_no_leftovers "$ROOT"

e2e_finish
