#!/usr/bin/env bash
# End to end for the everyday backend: one `snaphost serve` hosts `overlayfs-native` (and
# `memory` alongside, to show they coexist); a private containerd 1.6 reaches both through the
# `[proxy_plugins]` that `snaphost containerd-config` prints. With the 7-layer Debian image of
# lib/multilayer-image.sh (whiteouts, an opaque dir, hard links, symlinks, xattrs, setuid,
# a fifo, 20 MiB of random data):
#   - pull it with --snapshotter overlayfs-native (and memory); `ctr run` reads what each layer
#     did; the read-only view (`ctr images mount`) is identical to `umoci unpack` of the image
#     (content, modes, owners, mtimes, symlinks, hard links, user.* xattrs, whiteouts);
#   - restart snaphost with SIGTERM, then with SIGKILL: containerd and the backend list the same
#     snapshots, `ctr run` works again, and a container started before keeps running and reading
#     its files (the kernel's overlay mount does not depend on the daemon);
#   - remove the containers and the image and let containerd's GC run: the snapshot directories
#     and their disk usage are back to where they started;
#   - SIGTERM stops the daemon cleanly.
#   bash test/e2e/overlayfs-native.e2e.sh        (root; needs `npm run build` and scripts/install-deps.sh)
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/multilayer-image.sh"
. "$E2E_LIB/multilayer-probe.sh"
. "$E2E_LIB/tree-manifest.sh"
. "$E2E_LIB/overlay-root.sh"
. "$E2E_LIB/left-behind.sh"

SN=overlayfs-native
NAMES=("$SN" memory)
CTR_NAMESPACE=snaphost-e2e-ofn

e2e_require_cmds containerd ctr runc docker-registry skopeo umoci debootstrap jq curl node getfattr setfattr openssl flock
e2e_init overlayfs-native
W=$E2E_WORK
sock() { echo "$W/sockets/$1.sock"; }
ROOT=$W/state/$SN

registry_start
multilayer_push
multilayer_reference "$W/reference"
REF=$W/reference/rootfs

# ---- config, [proxy_plugins], daemon, containerd -----------------------------------------
# As a user's config: `snaphost` resolved from node_modules.
snaphost_user_config <<EOF
    { use: '$SN', options: {} },
    { use: 'memory', options: { size: '1g' } },
EOF
E2E_CURRENT=check-config
e2e_check check-config snaphost_cli check --config "$CONFIG"

E2E_CURRENT=containerd-config
PROXY_TOML=$W/proxy-plugins.toml
if snaphost_cli containerd-config --config "$CONFIG" --containerd "${E2E_CONTAINERD:-1}" >"$PROXY_TOML" 2>"$W/containerd-config.err" &&
  grep -qF "\"$(sock "$SN")\"" "$PROXY_TOML" && grep -qF "\"$(sock memory)\"" "$PROXY_TOML"; then
  e2e_pass containerd-config
else
  e2e_die "snaphost containerd-config did not print both proxy plugins: $(tail -n 3 "$W/containerd-config.err" "$PROXY_TOML" | tr '\n' ' ')"
fi

# The daemon first: containerd dials lazily, and a socket that appears after its first dial
# stays unreachable for up to ~3 s of reconnect backoff.
E2E_CURRENT=serve
snaphost_start "$CONFIG"
if snaphost_wait_serving "$(sock "$SN")" "$(sock memory)"; then
  e2e_pass serving-both
else
  e2e_die "the daemon does not serve $(sock "$SN") and $(sock memory)"
fi
containerd_start "$PROXY_TOML"

START_DIRS=$(overlay_dir_count "$ROOT")
START_DU=$(overlay_du "$ROOT")
e2e_log "starting point: $START_DIRS snapshot dirs, ${START_DU} KiB under $ROOT/snapshots"

# ---- pull ------------------------------------------------------------------------------------
E2E_CURRENT=pull
e2e_check "pull-$SN" ctr_ images pull --plain-http --snapshotter "$SN" "$ML_IMAGE"

# containerd names the committed layers by chain id; the backend sees its own keys.
committed_chain() { # SNAPSHOTTER: every chain id of the image is a committed snapshot in containerd
  local out id missing=
  out=$(ctr_ snapshots --snapshotter "$1" ls 2>&1) || { echo "$out"; return 1; }
  for id in "${ML_CHAIN_IDS[@]}"; do
    awk -v k="$id" '$1 == k && $NF == "Committed" { f = 1 } END { exit !f }' <<<"$out" || missing+=" $id"
  done
  [[ -z $missing ]] || { echo "not committed:$missing"; return 1; }
}
e2e_check "containerd-lists-7-layers-$SN" committed_chain "$SN"

backend_agrees_with_dirs() { # the backend's list and <root>/snapshots hold as many entries
  local listed dirs bad
  listed=$(snaphost_list "$(sock "$SN")" | grep -c .) || true
  dirs=$(overlay_dir_count "$ROOT")
  bad=$(overlay_malformed "$ROOT" | tr '\n' ' ')
  [[ $listed == "$1" && $dirs == "$((START_DIRS + $1))" && -z $bad ]] ||
    { echo "expected $1 snapshots: backend lists $listed, $dirs dirs under $ROOT/snapshots (start: $START_DIRS), malformed: ${bad:-none}"; return 1; }
}
e2e_check "backend-7-snapshots-7-dirs" backend_agrees_with_dirs 7

# ---- run: each layer's effect, seen from inside a container --------------------------------
E2E_CURRENT=run
multilayer_probe "run-$SN" "$SN" "$ML_IMAGE" "ofn-run-$SN-$$" "$REF" \
  'echo "empty=$(ls -A /e2e/special/empty | wc -l)"' 'empty=0'

# ---- the unpacked tree is the image, byte for byte ------------------------------------------
# view_compare NAME SNAPSHOTTER: a read-only view of the image's top layer, through containerd
# and the snapshotter's own mounts, against the reference.
view_compare() {
  local name=$1 sn=$2 mp=$W/view-$1 out
  if ! out=$(ctr_view_mount "$sn" "view-$name-$$" "$ML_TOP_CHAIN_ID" "$mp"); then
    e2e_fail "$name" "$out"
    return 1
  fi
  tree_compare "$name" "$REF" "$mp"
  ctr_view_unmount "$sn" "view-$name-$$" "$mp" || e2e_fail "$name-unmount" "could not unmount $mp or remove its view"
  rmdir "$mp" 2>/dev/null
}
view_compare "tree-identical-$SN" "$SN"

# ---- memory alongside, same daemon -------------------------------------------------------------
E2E_CURRENT=memory
e2e_check pull-memory ctr_ images pull --plain-http --snapshotter memory "$ML_IMAGE"
e2e_check containerd-lists-7-layers-memory committed_chain memory
out=$(ctr_ run --rm --snapshotter memory "$ML_IMAGE" "ofn-mem-$$" /bin/sh -c 'cat /e2e/top.txt' 2>&1)
if [[ $out == "$ML_TOP_TEXT" ]]; then e2e_pass run-memory; else e2e_fail run-memory "got: $(tail -n 2 <<<"$out" | tr '\n' ' ')"; fi
view_compare tree-identical-memory memory
# overlayfs-native still holds exactly its 7 layers (once GC removed the views): the two backends
# share nothing.
ctr_gc "$ML_IMAGE"
if e2e_wait 10 backend_agrees_with_dirs 7; then e2e_pass backends-coexist; else e2e_fail backends-coexist "$(backend_agrees_with_dirs 7)"; fi

# ---- restarts: SIGTERM, then SIGKILL ----------------------------------------------------------
E2E_CURRENT=restart
KEEPER=ofn-keeper-$$
e2e_check keeper-start ctr_ run -d --snapshotter "$SN" "$ML_IMAGE" "$KEEPER" /bin/sleep 3600
e2e_check keeper-writes ctr_ tasks exec --exec-id w1 "$KEEPER" /bin/sh -c 'echo before-restarts >/root/mark'
keeper_reads() { # the running container still reads its lower layers and its own upper dir
  local out
  out=$(ctr_ tasks exec --exec-id "r$RANDOM" "$KEEPER" /bin/sh -c 'cat /e2e/top.txt /root/mark; sha256sum </e2e/special/big.bin | cut -c1-64' 2>&1)
  [[ $out == "$ML_TOP_TEXT"$'\n'before-restarts$'\n'"$(sha256sum <"$REF/e2e/special/big.bin" | cut -c1-64)" ]] || { echo "read: $out"; return 1; }
}
keeper_running() { ctr_ tasks ls 2>/dev/null | awk -v k="$KEEPER" '$1 == k && $3 == "RUNNING" { f = 1 } END { exit !f }'; }
e2e_check keeper-reads keeper_reads

snapshots_ctr() { ctr_ snapshots --snapshotter "$SN" ls | LC_ALL=C sort; }
# Without the probe snapshots of ctr_wait_snapshotter: containerd deletes its record at once, the
# backend's snapshot goes at containerd's next GC.
snapshots_backend() { snaphost_list "$(sock "$SN")" | grep -v '/snaphost-probe-[0-9]*'$'\t' | LC_ALL=C sort; }

# restart_with SIGNAL: stop the daemon with SIGNAL, check what must survive, start it again.
restart_with() {
  local sig=$1 before_ctr before_backend after out
  before_ctr=$(snapshots_ctr)
  before_backend=$(snapshots_backend)
  if [[ $sig == TERM ]]; then
    snaphost_terminate 20
    if [[ $SNAPHOST_EXIT == 0 ]]; then e2e_pass sigterm-exit-0; else e2e_fail sigterm-exit-0 "exit status ${SNAPHOST_EXIT:-?}"; fi
  else
    snaphost_kill
  fi
  if keeper_running && keeper_reads >/dev/null; then e2e_pass "keeper-runs-while-down-$sig"; else e2e_fail "keeper-runs-while-down-$sig" "the container stopped or cannot read its files while snaphost is down"; fi
  snaphost_start "$CONFIG"
  if snaphost_wait_serving "$(sock "$SN")" "$(sock memory)"; then e2e_pass "serving-after-$sig"; else e2e_die "snaphost does not serve again after SIG$sig"; fi
  if ctr_wait_snapshotter "$SN" 20; then e2e_pass "containerd-reconnects-after-$sig"; else e2e_fail "containerd-reconnects-after-$sig" "prepare through containerd still fails after 20 s"; fi
  after=$(snapshots_ctr 2>&1)
  if [[ $after == "$before_ctr" ]]; then e2e_pass "containerd-lists-same-after-$sig"; else e2e_fail "containerd-lists-same-after-$sig" "$(diff <(echo "$before_ctr") <(echo "$after") | grep '^[<>]' | head -n 4 | tr '\n' ' ')"; fi
  after=$(snapshots_backend 2>&1)
  if [[ $after == "$before_backend" ]]; then e2e_pass "backend-lists-same-after-$sig"; else e2e_fail "backend-lists-same-after-$sig" "$(diff <(echo "$before_backend") <(echo "$after") | grep '^[<>]' | head -n 4 | tr '\n' ' ')"; fi
  out=$(ctr_ run --rm --snapshotter "$SN" "$ML_IMAGE" "ofn-after-$sig-$$" /bin/sh -c 'cat /e2e/top.txt /e2e/replaced.txt' 2>&1)
  if [[ $out == "$ML_TOP_TEXT"$'\n'v2 ]]; then e2e_pass "run-after-$sig"; else e2e_fail "run-after-$sig" "got: $(tail -n 3 <<<"$out" | tr '\n' ' ')"; fi
  if keeper_running && out=$(keeper_reads); then e2e_pass "keeper-after-$sig"; else e2e_fail "keeper-after-$sig" "not running, or: $out"; fi
}
restart_with TERM
restart_with KILL
view_compare "tree-identical-after-restarts" "$SN"

# ---- GC: containers and image gone -> directories and disk usage back to the start -------------
E2E_CURRENT=gc
keeper_stopped() { ! keeper_running; }
ctr_ tasks kill -s SIGKILL "$KEEPER" >/dev/null 2>&1
e2e_wait 10 keeper_stopped
ctr_ tasks rm -f "$KEEPER" >/dev/null 2>&1
e2e_check keeper-removed ctr_ containers rm "$KEEPER"
e2e_check image-rm-sync ctr_ images rm --sync "$ML_IMAGE"
back_to_start() {
  local listed ctrs dirs du
  listed=$(snaphost_list "$(sock "$SN")" | grep -c .) || true
  ctrs=$(ctr_ snapshots --snapshotter "$SN" ls | tail -n +2 | grep -c .) || true
  dirs=$(overlay_dir_count "$ROOT")
  du=$(overlay_du "$ROOT")
  [[ $listed == 0 && $ctrs == 0 && $dirs == "$START_DIRS" && $du == "$START_DU" ]] ||
    { echo "backend lists $listed, containerd $ctrs, $dirs dirs (start $START_DIRS), ${du} KiB (start ${START_DU} KiB): $(overlay_dir_names "$ROOT" | head -n 5 | tr '\n' ' ')"; return 1; }
}
if e2e_wait 30 back_to_start; then e2e_pass gc-dirs-and-du-back-to-start; else e2e_fail gc-dirs-and-du-back-to-start "$(back_to_start)"; fi
mounts=$(e2e_mounts_below "$W/state" | grep -v "^$W/state/memory" | tr '\n' ' ')
if [[ -z $mounts ]]; then e2e_pass no-mounts-left; else e2e_fail no-mounts-left "$mounts"; fi

# ---- clean shutdown -----------------------------------------------------------------------------
E2E_CURRENT=shutdown
containerd_stop
snaphost_terminate 20
check_clean_shutdown sigterm-clean-shutdown "$W/state"

e2e_finish
