#!/usr/bin/env bash
# Crash safety of `overlayfs-native`: kill -9 snaphost at random moments while containerd unpacks
# the 7-layer image of lib/multilayer-image.sh into it, at least $E2E_CRASH_KILLS times (default
# 20), and after every kill:
#   - restart snaphost (containerd keeps running and reconnects; we wait by probing with a
#     prepare + rm through containerd, past its ~3 s reconnect backoff);
#   - pull again: it completes;
#   - let containerd's GC run (`ctr images rm --sync` of a second tag of the image): it removes
#     what the killed pull left in the backend and calls Cleanup; then the store and the
#     directories agree: containerd and the backend list exactly the image's 7 committed layers,
#     <root>/snapshots holds exactly 7 snapshot dirs (no orphan, no temp dir), and the ids a
#     read-only view of the image mounts are exactly those 7 dirs (no dangling record);
#   - the view is byte-identical to `umoci unpack` of the image (lib/tree-manifest.sh).
# The kill delays come from a seeded generator: the seed is printed, and E2E_CRASH_SEED=N
# replays a run. The unpack window is measured first, and each delay is drawn inside it; a kill
# that finds the pull already finished does not count (the run goes on, up to 2x the attempts).
# Env: E2E_CRASH_KILLS (default 20), E2E_CRASH_SEED, E2E_CRASH_FULL_COMPARE_EVERY (default 1:
# a full tree comparison after every kill; N: every Nth, a cheap check otherwise).
#   bash test/e2e/overlayfs-native-crash.e2e.sh        (root; needs `npm run build`)
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/multilayer-image.sh"
. "$E2E_LIB/tree-manifest.sh"
. "$E2E_LIB/overlay-root.sh"

SN=overlayfs-native
CTR_NAMESPACE=snaphost-e2e-ofn-crash
KILLS=${E2E_CRASH_KILLS:-20}
FULL_EVERY=${E2E_CRASH_FULL_COMPARE_EVERY:-1}
SEED=${E2E_CRASH_SEED:-$((($(date +%s%N) / 1000) % 2147483647))}
[[ $KILLS =~ ^[1-9][0-9]*$ && $FULL_EVERY =~ ^[1-9][0-9]*$ && $SEED =~ ^[0-9]+$ ]] ||
  { echo "FAIL setup: E2E_CRASH_KILLS, E2E_CRASH_FULL_COMPARE_EVERY and E2E_CRASH_SEED must be numbers"; echo "0 passed, 1 failed"; exit 1; }
MAX_ATTEMPTS=$((KILLS * 2))

e2e_require_cmds containerd ctr runc docker-registry skopeo umoci debootstrap jq curl node getfattr setfattr openssl flock
e2e_init overlayfs-native-crash
W=$E2E_WORK
SOCK=$W/sockets/$SN.sock
ROOT=$W/state/$SN
echo "seed $SEED (E2E_CRASH_SEED=$SEED replays these kill delays)"

# A 31-bit linear congruential generator: the same seed gives the same delays on any machine.
RNG=$SEED
rng_below() { # N: sets RNG_OUT to a number in [0, N)
  RNG=$(((RNG * 1103515245 + 12345) % 2147483648))
  RNG_OUT=$(((RNG >> 8) % $1))
}

registry_start
multilayer_push
multilayer_reference "$W/reference"
REF=$W/reference/rootfs
REF_BIG=$(sha256sum <"$REF/e2e/special/big.bin" | cut -c1-64)
REF_ENTRIES=$(find "$REF" | wc -l)

snaphost_user_config <<EOF
    { use: '$SN', options: {} },
EOF
E2E_CURRENT=setup
snaphost_cli containerd-config --config "$CONFIG" --containerd "${E2E_CONTAINERD:-1}" >"$W/proxy-plugins.toml" 2>"$W/containerd-config.err" ||
  e2e_die "snaphost containerd-config failed: $(tail -n 3 "$W/containerd-config.err" | tr '\n' ' ')"
snaphost_start "$CONFIG"
snaphost_wait_serving "$SOCK" || e2e_die "snaphost does not serve $SOCK"
containerd_start "$W/proxy-plugins.toml"

pull() { ctr_ images pull --plain-http --snapshotter "$SN" "$ML_IMAGE"; }
e2e_check initial-pull pull

# ---- checks after each crash ----------------------------------------------------------------
run_gc() { ctr_gc "$ML_IMAGE"; }

# store_agrees_with_dirs: exactly the image's 7 committed layers, in containerd, in the backend
# and on disk. Sets AGREE_DIRS to the dir names (sorted), so call it in this shell, not in $(...).
# Prints why not.
store_agrees_with_dirs() {
  local ctr_out backend_out problems='' id names
  ctr_out=$(ctr_ snapshots --snapshotter "$SN" ls 2>&1) || { echo "ctr snapshots ls: $ctr_out"; return 1; }
  [[ $(tail -n +2 <<<"$ctr_out" | grep -c .) == 7 ]] || problems+=" containerd lists $(tail -n +2 <<<"$ctr_out" | grep -c .) snapshots;"
  for id in "${ML_CHAIN_IDS[@]}"; do
    awk -v k="$id" '$1 == k && $NF == "Committed" { f = 1 } END { exit !f }' <<<"$ctr_out" || problems+=" $id not committed in containerd;"
  done
  backend_out=$(snaphost_list "$SOCK" 2>&1) || { echo "backend List: $backend_out"; return 1; }
  [[ $(grep -c . <<<"$backend_out") == 7 ]] || problems+=" backend lists $(grep -c . <<<"$backend_out"):$(cut -f1,2 <<<"$backend_out" | tr '\t\n' ' ;')"
  [[ $(awk -F'\t' '$2 != "COMMITTED"' <<<"$backend_out" | grep -c .) == 0 ]] || problems+=" backend holds non-committed snapshots;"
  names=$(overlay_dir_names "$ROOT")
  [[ $(grep -c . <<<"$names") == 7 ]] || problems+=" $(grep -c . <<<"$names") dirs under $ROOT/snapshots: $(tr '\n' ' ' <<<"$names");"
  [[ -z $(overlay_malformed "$ROOT") ]] || problems+=" malformed entries: $(overlay_malformed "$ROOT" | tr '\n' ' ');"
  AGREE_DIRS=$names
  [[ -z $problems ]] || { echo "${problems% ;}"; return 1; }
}

# view_check NAME FULL: mount a read-only view of the image; its layers must be exactly the
# 7 dirs ($AGREE_DIRS); its content the reference's (full manifest, or a cheap check).
view_check() {
  local name=$1 full=$2 mp=$W/view ids out
  mkdir -p "$mp"
  if ! out=$(ctr_view_mount "$SN" "view-$name" "$ML_TOP_CHAIN_ID" "$mp"); then
    echo "$out"
    return 1
  fi
  ids=$(overlay_mount_ids "$ROOT" "$mp")
  local problems=''
  [[ $ids == "$AGREE_DIRS" ]] || problems+=" the view mounts ids [$(tr '\n' ' ' <<<"$ids")] but the dirs are [$(tr '\n' ' ' <<<"$AGREE_DIRS")];"
  if [[ $full == 1 ]]; then
    # (called in $(...): tree_compare's PASS/FAIL line becomes part of this check's message)
    out=$(tree_compare "$name" "$REF" "$mp")
    [[ $out == PASS* ]] || problems+=" ${out#FAIL }"
  else
    [[ $(sha256sum <"$mp/e2e/special/big.bin" | cut -c1-64) == "$REF_BIG" ]] || problems+=" big.bin differs;"
    [[ $(cat "$mp/e2e/top.txt") == "$ML_TOP_TEXT" && ! -e $mp/e2e/gone-dir ]] || problems+=" top layer wrong;"
    [[ $(find "$mp" | wc -l) == "$REF_ENTRIES" ]] || problems+=" $(find "$mp" | wc -l) entries, reference $REF_ENTRIES;"
  fi
  ctr_view_unmount "$SN" "view-$name" "$mp" >/dev/null 2>&1 || problems+=" could not unmount the view or remove it;"
  [[ -z $problems ]] || { echo "${problems% ;}"; return 1; }
}

# ---- the unpack window -------------------------------------------------------------------------
# A pull whose layers are all unpacked already costs what comes before the unpack (ctr starting,
# resolving the image, checking each layer); an unpack-only pull (content present, snapshots
# removed) ends when the unpack does. Kills are drawn between the two medians.
E2E_CURRENT=window
median_ms() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
unpack=()
for _ in 1 2 3; do
  ctr_rm_all_snapshots "$SN" || e2e_die "cannot remove the snapshots before measuring"
  run_gc
  t0=$(date +%s%N)
  pull >/dev/null 2>&1 || e2e_die "unpack-only pull failed"
  unpack+=($((($(date +%s%N) - t0) / 1000000)))
done
noop=()
for _ in 1 2 3; do
  t0=$(date +%s%N)
  pull >/dev/null 2>&1 || e2e_die "pull of an unpacked image failed"
  noop+=($((($(date +%s%N) - t0) / 1000000)))
done
WINDOW_START=$(median_ms "${noop[@]}")
WINDOW_END=$(median_ms "${unpack[@]}")
echo "unpack window [$WINDOW_START, $WINDOW_END) ms after the pull starts (unpack-only pulls: ${unpack[*]} ms; pulls with nothing to unpack: ${noop[*]} ms)"
[[ $((WINDOW_END - WINDOW_START)) -ge 200 ]] || e2e_die "the unpack window is too short to aim kills at (${WINDOW_START}-${WINDOW_END} ms)"
run_gc
out=
if store_agrees_with_dirs >"$W/agree.txt" && out=$(view_check tree-before-crashes 1); then e2e_pass baseline-agrees-and-identical; else e2e_fail baseline-agrees-and-identical "$(cat "$W/agree.txt") $out"; fi

# ---- kill, restart, pull, verify ---------------------------------------------------------------
E2E_CURRENT=crash
landed=0
attempt=0
while [[ $landed -lt $KILLS && $attempt -lt $MAX_ATTEMPTS ]]; do
  attempt=$((attempt + 1))
  name=$(printf 'crash-%02d' "$attempt")
  ctr_rm_all_snapshots "$SN" || { e2e_fail "$name" "cannot remove the snapshots before the pull"; continue; }
  rng_below $((WINDOW_END - WINDOW_START))
  delay=$((WINDOW_START + RNG_OUT))
  pull >"$W/pull.log" 2>&1 &
  pull_pid=$!
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  during=0
  kill -0 "$pull_pid" 2>/dev/null && during=1
  snaphost_kill
  { wait "$pull_pid"; } 2>/dev/null
  [[ $during == 0 ]] || landed=$((landed + 1))
  what="kill at ${delay} ms, $([[ $during == 1 ]] && echo "during the pull" || echo "after the pull had finished")"

  problems=
  t_restart=$(date +%s%N)
  snaphost_start "$CONFIG"
  if ! snaphost_wait_serving "$SOCK"; then
    e2e_fail "$name" "$what: snaphost does not serve again after kill -9"
    e2e_die "stopping: the daemon does not come back"
  fi
  ctr_wait_snapshotter "$SN" 20 || problems+=" containerd cannot reach the backend 20 s after the restart;"
  t_pull=$(date +%s%N)
  ok=0
  for _ in 1 2 3; do
    if pull >"$W/pull.log" 2>&1; then ok=1; break; fi
    sleep 1
  done
  [[ $ok == 1 ]] || problems+=" the pull does not complete: $(tail -n 2 "$W/pull.log" | tr '\n' ' ');"
  t_verify=$(date +%s%N)
  run_gc || problems+=" GC (ctr images rm --sync) failed;"
  if ! e2e_wait 10 store_agrees_with_dirs; then
    problems+=" after GC: $(store_agrees_with_dirs);"
  elif ! out=$(view_check "$name-tree" $((attempt % FULL_EVERY == 0 ? 1 : 0))); then
    problems+=" $out;"
  fi
  e2e_log "$name: restart+reconnect $(((t_pull - t_restart) / 1000000)) ms, pull $(((t_verify - t_pull) / 1000000)) ms, GC+verify $((($(date +%s%N) - t_verify) / 1000000)) ms"
  if [[ -z $problems ]]; then e2e_pass "$name ($what)"; else e2e_fail "$name" "$what:${problems% ;}"; fi
done
if [[ $landed -ge $KILLS ]]; then
  e2e_pass "killed-during-unpack-$KILLS-times"
else
  e2e_fail "killed-during-unpack-$KILLS-times" "only $landed of $attempt kills landed while a pull was running (window ${WINDOW_START}-${WINDOW_END} ms)"
fi

# ---- at the end: the full comparison, then everything goes away ---------------------------------
E2E_CURRENT=final
out=
if store_agrees_with_dirs >"$W/agree.txt" && out=$(view_check tree-after-crashes 1); then e2e_pass final-agrees-and-identical; else e2e_fail final-agrees-and-identical "$(cat "$W/agree.txt") $out"; fi
e2e_check image-rm-sync ctr_ images rm --sync "$ML_IMAGE"
empty_again() {
  local listed dirs
  listed=$(snaphost_list "$SOCK" | grep -c .) || true
  dirs=$(overlay_dir_count "$ROOT")
  [[ $listed == 0 && $dirs == 0 ]] || { echo "backend lists $listed, $dirs dirs: $(overlay_dir_names "$ROOT" | head -n 5 | tr '\n' ' ')"; return 1; }
}
if e2e_wait 30 empty_again; then e2e_pass gc-empties-backend; else e2e_fail gc-empties-backend "$(empty_again)"; fi
containerd_stop
snaphost_terminate 20
if [[ $SNAPHOST_EXIT == 0 && ! -e $SOCK ]]; then e2e_pass sigterm-clean-shutdown; else e2e_fail sigterm-clean-shutdown "exit=${SNAPHOST_EXIT:-?}, socket left: $([[ -e $SOCK ]] && echo yes || echo no)"; fi
e2e_finish
