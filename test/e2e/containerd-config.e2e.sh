#!/usr/bin/env bash
# End to end for the operator commands: does containerd 1.6 accept what
# `snaphost containerd-config` prints, and does `snaphost wait-ready` mean "every socket accepts"?
# One `snaphost serve` hosts the three built-ins (memory, overlayfs-native, stargz-lazy).
#   - containerd-config (1.x) names every backend; containerd's own loader (`containerd config
#     dump`) reads it as an imported file, with the commented CRI choices switched on, and puts
#     snapshotter / disable_snapshot_annotations in the CRI plugin's containerd table;
#   - --containerd 2 prints version 3 with exports (root; remote annotations for stargz-lazy only);
#   - wait-ready fails (exit 1, bounded) while nothing serves, and succeeds once the daemon serves;
#   - a private containerd 1.6 whose config is that output merged with the test's own settings
#     (root, state, address): `ctr plugins ls` shows each backend as io.containerd.snapshotter.v1
#     with status ok, and a snapshot prepare + ls + rm through each one succeeds;
#   - shutdown leaves no socket, mount or process.
#   bash test/e2e/containerd-config.e2e.sh    (root; needs `npm run build` and scripts/install-deps.sh)
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/stargz-lazy.sh"

NAMES=(memory overlayfs-native stargz-lazy)
CTR_NAMESPACE=snaphost-e2e-cc

e2e_require_cmds containerd ctr runc node awk fusermount
e2e_init containerd-config
W=$E2E_WORK
sock() { echo "$W/sockets/$1.sock"; }

snaphost_user_config <<EOF
    { use: 'memory', options: { size: '64m' } },
    { use: 'overlayfs-native', options: {} },
    { use: 'stargz-lazy', options: { fusedIdleExitMs: 1000 } },
EOF
# stargz-lazy starts its FUSE-serving process when it opens; with no layer to serve it exits by
# itself once snaphost is gone (fusedIdleExitMs), which clean-shutdown checks. Stopped at exit
# anyway, should a failure leave it.
e2e_on_exit fused_stop "$W/state/stargz-lazy"

# ---- containerd-config: what it prints ---------------------------------------------------------
E2E_CURRENT=containerd-config
TOML=$W/snaphost-containerd.toml
if snaphost_cli containerd-config --config "$CONFIG" >"$TOML" 2>"$W/cc.err"; then
  missing=
  for n in "${NAMES[@]}"; do
    grep -qF "[proxy_plugins.\"$n\"]" "$TOML" && grep -qF "address = \"$(sock "$n")\"" "$TOML" || missing+=" $n"
  done
  if [[ -z $missing ]] && grep -qx 'version = 2' "$TOML"; then e2e_pass containerd-config-1x; else e2e_fail containerd-config-1x "missing:${missing:- version = 2}"; fi
else
  e2e_die "containerd-config failed: $(tr '\n' ' ' <"$W/cc.err")"
fi

# containerd's own loader: the output as a file imported by a config, CRI choices switched on.
# table_value FILE TABLE KEY: the value of KEY in [TABLE] of a TOML file containerd printed.
table_value() {
  awk -v t="[$2]" -v k="$3" '/^ *\[/ { gsub(/^ +| +$/, ""); cur = $0; next }
    cur == t && $1 == k { sub(/^[^=]*= */, ""); print; exit }' "$1"
}
E2E_CURRENT=config-dump
sed -e 's/^# \[plugins\./[plugins./' -e 's/^#   snapshotter = "stargz-lazy"/  snapshotter = "stargz-lazy"/' \
  -e 's/^#   disable_snapshot_annotations = false/  disable_snapshot_annotations = false/' "$TOML" >"$W/cri-on.toml"
printf 'version = 2\nroot = "%s"\nstate = "%s"\nimports = ["%s"]\n' "$W/dump/root" "$W/dump/state" "$W/cri-on.toml" >"$W/dump.toml"
if containerd --config "$W/dump.toml" config dump >"$W/dumped.toml" 2>"$W/dump.err"; then
  bad=
  for n in "${NAMES[@]}"; do
    [[ $(table_value "$W/dumped.toml" "proxy_plugins.$n" address) == "\"$(sock "$n")\"" ]] || bad+=" address-$n"
    [[ $(table_value "$W/dumped.toml" "proxy_plugins.$n" type) == '"snapshot"' ]] || bad+=" type-$n"
  done
  cri='plugins."io.containerd.grpc.v1.cri".containerd'
  [[ $(table_value "$W/dumped.toml" "$cri" snapshotter) == '"stargz-lazy"' ]] || bad+=" cri-snapshotter"
  [[ $(table_value "$W/dumped.toml" "$cri" disable_snapshot_annotations) == false ]] || bad+=" cri-annotations"
  if [[ -z $bad ]]; then e2e_pass containerd-loads-it-as-import; else e2e_fail containerd-loads-it-as-import "wrong in containerd's dump ($W/dumped.toml):$bad"; fi
else
  e2e_fail containerd-loads-it-as-import "containerd config dump: $(tail -n 3 "$W/dump.err" | tr '\n' ' ')"
fi

E2E_CURRENT=containerd-config-2x
out=$(snaphost_cli containerd-config --config "$CONFIG" --containerd 2 2>&1)
bad=
grep -qx 'version = 3' <<<"$out" || bad+=" version"
for n in "${NAMES[@]}"; do
  grep -qF "    [proxy_plugins.\"$n\".exports]" <<<"$out" && grep -qF "      root = \"$W/state/$n\"" <<<"$out" || bad+=" exports-$n"
done
[[ $(grep -c 'enable_remote_snapshot_annotations = "true"' <<<"$out") == 1 ]] || bad+=" annotations-count"
grep -A3 -F '[proxy_plugins."stargz-lazy".exports]' <<<"$out" | grep -qF 'enable_remote_snapshot_annotations = "true"' || bad+=" annotations-stargz-lazy"
grep -qxF '# [plugins."io.containerd.cri.v1.images"]' <<<"$out" || bad+=" cri-table"
if [[ -z $bad ]]; then e2e_pass containerd-config-2x; else e2e_fail containerd-config-2x "wrong:$bad"; fi

# ---- wait-ready ----------------------------------------------------------------------------
E2E_CURRENT=wait-ready
start=$(date +%s)
snaphost_cli wait-ready --config "$CONFIG" --timeout 2 >"$W/wait-none.out" 2>&1
rc=$?
took=$(($(date +%s) - start))
if [[ $rc == 1 ]] && grep -q 'NOT READY  memory' "$W/wait-none.out" && [[ $took -le 20 ]]; then
  e2e_pass wait-ready-fails-without-daemon
else
  e2e_fail wait-ready-fails-without-daemon "exit $rc after ${took}s: $(tail -n 2 "$W/wait-none.out" | tr '\n' ' ')"
fi

snaphost_start "$CONFIG"
if snaphost_cli wait-ready --config "$CONFIG" --timeout 60 >"$W/wait.out" 2>&1; then
  ready=$(grep -c '^  ready ' "$W/wait.out")
  if [[ $ready == 3 ]]; then e2e_pass wait-ready; else e2e_fail wait-ready "$ready of 3 ready: $(tr '\n' ' ' <"$W/wait.out")"; fi
else
  e2e_fail wait-ready "$(tr '\n' ' ' <"$W/wait.out")"
fi
# Ready means served: each socket answers a List right away.
for n in "${NAMES[@]}"; do
  e2e_check "serving-after-ready-$n" snaphost_list "$(sock "$n")"
done

# ---- a real containerd 1.6 on that config --------------------------------------------------------
containerd_start "$TOML"
E2E_CURRENT=plugins-ls
plugins=$(ctr_ plugins ls 2>&1)
for n in "${NAMES[@]}"; do
  if awk -v id="$n" '$1 == "io.containerd.snapshotter.v1" && $2 == id && $NF == "ok" { f = 1 } END { exit !f }' <<<"$plugins"; then
    e2e_pass "plugin-ok-$n"
  else
    e2e_fail "plugin-ok-$n" "ctr plugins ls: $(grep -F -- "$n" <<<"$plugins" | tr -s ' ' | tr '\n' ';')"
  fi
done

for n in "${NAMES[@]}"; do
  E2E_CURRENT=prepare-$n
  key=e2e-cc-$n-$$
  if out=$(ctr_ snapshots --snapshotter "$n" prepare "$key" 2>&1) &&
    ctr_ snapshots --snapshotter "$n" ls 2>&1 | awk -v k="$key" '$1 == k && $NF == "Active" { f = 1 } END { exit !f }' &&
    out=$(ctr_ snapshots --snapshotter "$n" rm "$key" 2>&1) &&
    [[ -z $(ctr_ snapshots --snapshotter "$n" ls | tail -n +2) ]]; then
    e2e_pass "prepare-ls-rm-$n"
  else
    e2e_fail "prepare-ls-rm-$n" "$(tail -n 2 <<<"$out" | tr '\n' ' ')"
  fi
done

# ---- shutdown: nothing left ------------------------------------------------------------------------
E2E_CURRENT=shutdown
containerd_stop
snaphost_terminate 20
leftover=
for n in "${NAMES[@]}"; do [[ -e $(sock "$n") ]] && leftover+=" $(sock "$n")"; done
mounts=$(awk -v d="$W/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | tr '\n' ' ')
# stargz-lazy's FUSE-serving process, idle and no longer attached, exits within fusedIdleExitMs.
for ((i = 0; i < 100; i++)); do
  procs=$(e2e_pids_mentioning "$W" | tr '\n' ' ')
  [[ -z $procs ]] && break
  sleep 0.1
done
if [[ $SNAPHOST_EXIT == 0 && -z $leftover && -z $mounts && -z $procs ]]; then
  e2e_pass clean-shutdown
else
  e2e_fail clean-shutdown "exit=${SNAPHOST_EXIT:-?} sockets:${leftover:- none} mounts: ${mounts:-none} processes: ${procs:-none}"
fi

e2e_finish
