#!/usr/bin/env bash
# End to end for the operator commands: does the containerd under test (E2E_CONTAINERD=1: the
# system's 1.6; E2E_CONTAINERD=2: 2.x, see lib/containerd.sh) accept what
# `snaphost containerd-config` prints for it, and does `snaphost wait-ready` mean "every socket
# accepts"? One `snaphost serve` hosts the three built-ins (memory, overlayfs-native, stargz-lazy).
#   - containerd-config names every backend in the format of each major (1.x: version 2, CRI
#     choices commented; 2.x: version 3 with exports: root, remote annotations for stargz-lazy
#     only; unpack_config); --cri-snapshotter refuses a name that is no backend (exit 2);
#   - containerd's own loader (`containerd config dump`) reads the `--cri-snapshotter stargz-lazy`
#     output for its major as an imported file: proxy plugins (2.x: exports, an unpack_config
#     entry for overlayfs and each backend) and CRI's snapshotter = stargz-lazy with
#     disable_snapshot_annotations = false in the CRI table of that major;
#   - 2.x only: the 1.x output (version 2) as containerd 2.x's config keeps that CRI choice
#     through the migration to version 3 (a table without runtimes loses it: logged as a control);
#   - wait-ready fails (exit 1, bounded) while nothing serves, and succeeds once the daemon serves;
#   - a private containerd whose config is the `--cri-snapshotter` output merged with the test's
#     own settings (root, state, address; CRI disabled): `ctr plugins ls` shows each backend as
#     io.containerd.snapshotter.v1 with status ok, a snapshot prepare + ls + rm through each one
#     succeeds, and a plain `ctr image pull` (2.x: the transfer service) into each one commits
#     the image's layer there, which `images rm --sync` removes again;
#   - shutdown leaves no socket, mount or process.
#   bash test/e2e/containerd-config.e2e.sh                    (root; needs `npm run build` and
#   E2E_CONTAINERD=2 bash test/e2e/containerd-config.e2e.sh   scripts/install-deps.sh)
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/stargz-lazy.sh"
. "$E2E_LIB/left-behind.sh"

NAMES=(memory overlayfs-native stargz-lazy)
CTR_NAMESPACE=snaphost-e2e-cc
MAJOR=$(containerd_major)
# The containerd binary of that major: its `config dump` is the loader under test.
CONTAINERD_BIN=${CONTAINERD_BIN_DIR:+$CONTAINERD_BIN_DIR/}containerd

e2e_require_cmds containerd ctr runc node awk fusermount docker-registry skopeo umoci jq
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

# table_values FILE TABLE KEY: every value of KEY in [TABLE] (and in each [[TABLE]]) of a TOML
# file containerd printed, one a line. Table names are compared without quotes (1.6 prints
# [proxy_plugins."memory"], 2.x [proxy_plugins.memory] and [plugins.'io.containerd.cri.v1.images']);
# a literal string ('x', as 2.x prints strings) comes out as a basic one ("x", as 1.6 prints them).
table_values() {
  awk -v t="$2" -v k="$3" -v q="'" '
    function bare(s) { gsub(q, "", s); gsub(/"/, "", s); return s }
    /^ *\[/ { h = $0; gsub(/^ *\[+|\]+ *$/, "", h); cur = bare(h); next }
    cur == bare(t) && $1 == k {
      sub(/^[^=]*= */, "")
      if (length($0) >= 2 && substr($0, 1, 1) == q && substr($0, length($0)) == q) $0 = "\"" substr($0, 2, length($0) - 2) "\""
      print
    }' "$1"
}
# table_value FILE TABLE KEY: the first one.
table_value() { table_values "$@" | head -n 1; }

# The CRI table that holds snapshotter and disable_snapshot_annotations, as `config dump` names it.
if [[ $MAJOR == 2 ]]; then CRI_TABLE=plugins.io.containerd.cri.v1.images; else CRI_TABLE='plugins."io.containerd.grpc.v1.cri".containerd'; fi

# ---- containerd-config: what it prints ---------------------------------------------------------
E2E_CURRENT=containerd-config
TOML=$W/snaphost-containerd.toml
if snaphost_cli containerd-config --config "$CONFIG" >"$TOML" 2>"$W/cc.err"; then
  missing=
  for n in "${NAMES[@]}"; do
    grep -qF "[proxy_plugins.\"$n\"]" "$TOML" && grep -qF "address = \"$(sock "$n")\"" "$TOML" || missing+=" $n"
  done
  grep -qxF '# [plugins."io.containerd.grpc.v1.cri".containerd]' "$TOML" || missing+=" commented-cri-table"
  if [[ -z $missing ]] && grep -qx 'version = 2' "$TOML"; then e2e_pass containerd-config-1x; else e2e_fail containerd-config-1x "missing:${missing:- version = 2}"; fi
else
  e2e_die "containerd-config failed: $(tr '\n' ' ' <"$W/cc.err")"
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
grep -qF 'containerd 2.0 ignores enable_remote_snapshot_annotations' <<<"$out" || bad+=" comment-2.0-vs-2.1"
if [[ -z $bad ]]; then e2e_pass containerd-config-2x; else e2e_fail containerd-config-2x "wrong:$bad"; fi

E2E_CURRENT=cri-snapshotter-not-a-backend
snaphost_cli containerd-config --config "$CONFIG" --cri-snapshotter overlayfs >"$W/cc-bad.out" 2>&1
rc=$?
if [[ $rc == 2 ]] && grep -qF -- '--cri-snapshotter must name a configured backend' "$W/cc-bad.out"; then
  e2e_pass cri-snapshotter-not-a-backend
else
  e2e_fail cri-snapshotter-not-a-backend "exit $rc: $(head -n 2 "$W/cc-bad.out" | tr '\n' ' ')"
fi

# The output for the containerd under test with CRI's snapshotter stargz-lazy: what it runs on.
TOML_CRI=$W/snaphost-containerd-cri.toml
snaphost_cli containerd-config --config "$CONFIG" --containerd "$MAJOR" --cri-snapshotter stargz-lazy >"$TOML_CRI" 2>"$W/cc-cri.err" ||
  e2e_die "containerd-config --cri-snapshotter failed: $(tr '\n' ' ' <"$W/cc-cri.err")"

# ---- containerd's own loader ---------------------------------------------------------------------
# dump_config NAME FILE: `containerd config dump` of FILE into $W/NAME.dump (stderr: $W/NAME.err).
dump_config() { "$CONTAINERD_BIN" --config "$2" config dump >"$W/$1.dump" 2>"$W/$1.err"; }

# The output as a file imported by a config of the same version.
E2E_CURRENT=config-dump
printf 'version = %s\nroot = "%s"\nstate = "%s"\nimports = ["%s"]\n' "$((MAJOR + 1))" "$W/dump/root" "$W/dump/state" "$TOML_CRI" >"$W/import.toml"
if dump_config import "$W/import.toml"; then
  D=$W/import.dump
  bad=
  for n in "${NAMES[@]}"; do
    [[ $(table_value "$D" "proxy_plugins.$n" address) == "\"$(sock "$n")\"" ]] || bad+=" address-$n"
    [[ $(table_value "$D" "proxy_plugins.$n" type) == '"snapshot"' ]] || bad+=" type-$n"
    if [[ $MAJOR == 2 ]]; then
      [[ $(table_value "$D" "proxy_plugins.$n.exports" root) == "\"$W/state/$n\"" ]] || bad+=" exports-root-$n"
      want=
      [[ $n == stargz-lazy ]] && want='"true"'
      [[ $(table_value "$D" "proxy_plugins.$n.exports" enable_remote_snapshot_annotations) == "$want" ]] || bad+=" exports-annotations-$n"
    fi
  done
  if [[ $MAJOR == 2 ]]; then
    unpack=$(table_values "$D" plugins.io.containerd.transfer.v1.local.unpack_config snapshotter | sort | tr '\n' ' ')
    [[ $unpack == '"memory" "overlayfs" "overlayfs-native" "stargz-lazy" ' ]] || bad+=" unpack_config($unpack)"
  fi
  [[ $(table_value "$D" "$CRI_TABLE" snapshotter) == '"stargz-lazy"' ]] || bad+=" cri-snapshotter"
  [[ $(table_value "$D" "$CRI_TABLE" disable_snapshot_annotations) == false ]] || bad+=" cri-annotations"
  if [[ -z $bad ]]; then e2e_pass containerd-loads-it-as-import; else e2e_fail containerd-loads-it-as-import "wrong in containerd's dump ($D):$bad"; fi
else
  e2e_fail containerd-loads-it-as-import "containerd config dump: $(tail -n 3 "$W/import.err" | tr '\n' ' ')"
fi

# containerd 2.x given the 1.x output (version 2) as its config, as after an upgrade: its
# migration to version 3 must keep CRI's snapshotter choice and the runc runtime.
if [[ $MAJOR == 2 ]]; then
  E2E_CURRENT=migration
  snaphost_cli containerd-config --config "$CONFIG" --containerd 1 --cri-snapshotter stargz-lazy >"$W/cri-1x.toml" 2>"$W/cc-1x.err" ||
    e2e_die "containerd-config --containerd 1 --cri-snapshotter failed: $(tr '\n' ' ' <"$W/cc-1x.err")"
  # Top-level keys go before the first table.
  { printf 'root = "%s"\nstate = "%s"\n' "$W/dump/root" "$W/dump/state"; cat "$W/cri-1x.toml"; } >"$W/migrate.toml"
  if dump_config migrate "$W/migrate.toml"; then
    D=$W/migrate.dump
    bad=
    grep -qx 'version = 3' "$D" || bad+=" version"
    for n in "${NAMES[@]}"; do
      [[ $(table_value "$D" "proxy_plugins.$n" address) == "\"$(sock "$n")\"" ]] || bad+=" address-$n"
    done
    [[ $(table_value "$D" plugins.io.containerd.cri.v1.images snapshotter) == '"stargz-lazy"' ]] || bad+=" cri-snapshotter"
    [[ $(table_value "$D" plugins.io.containerd.cri.v1.images disable_snapshot_annotations) == false ]] || bad+=" cri-annotations"
    [[ $(table_value "$D" plugins.io.containerd.cri.v1.runtime.containerd default_runtime_name) == '"runc"' ]] || bad+=" default-runtime"
    [[ $(table_value "$D" plugins.io.containerd.cri.v1.runtime.containerd.runtimes.runc runtime_type) == '"io.containerd.runc.v2"' ]] || bad+=" runc-runtime"
    if [[ -z $bad ]]; then e2e_pass migration-keeps-cri-snapshotter; else e2e_fail migration-keeps-cri-snapshotter "wrong in containerd's dump ($D):$bad"; fi
  else
    e2e_fail migration-keeps-cri-snapshotter "containerd config dump: $(tail -n 3 "$W/migrate.err" | tr '\n' ' ')"
  fi
  # Control, logged only: the same table without runtimes.runc, migrated.
  sed '/containerd\.runtimes\.runc\]/,+1d' "$W/migrate.toml" >"$W/migrate-no-runtimes.toml"
  if dump_config migrate-no-runtimes "$W/migrate-no-runtimes.toml"; then
    e2e_log "control: without runtimes.runc, $("$CONTAINERD_BIN" --version | awk '{ print $1, $3 }') migrates CRI's snapshotter to $(table_value "$W/migrate-no-runtimes.dump" plugins.io.containerd.cri.v1.images snapshotter)"
  fi
fi

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

# ---- a real containerd on that config ------------------------------------------------------------
registry_start
image_build_push
containerd_start "$TOML_CRI"
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

# A plain pull (2.x: the transfer service, which unpacks only into the snapshotters of its
# unpack_config) commits the image's one layer in the backend; images rm --sync (GC) removes it.
for n in "${NAMES[@]}"; do
  E2E_CURRENT=pull-$n
  if ! out=$(ctr_ images pull --plain-http --snapshotter "$n" "$IMAGE" 2>&1); then
    e2e_fail "pull-$n" "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
    continue
  fi
  if ctr_ snapshots --snapshotter "$n" ls 2>&1 | awk -v k="$IMAGE_CHAIN_ID" '$1 == k && $NF == "Committed" { f = 1 } END { exit !f }'; then
    e2e_pass "pull-$n"
  else
    e2e_fail "pull-$n" "no committed $IMAGE_CHAIN_ID: $(ctr_ snapshots --snapshotter "$n" ls 2>&1 | tr '\n' ' ')"
  fi
  if out=$(ctr_ images rm --sync "$IMAGE" 2>&1) && [[ -z $(ctr_ snapshots --snapshotter "$n" ls | tail -n +2) ]]; then
    e2e_pass "image-rm-$n"
  else
    e2e_fail "image-rm-$n" "$(tail -n 2 <<<"$out" | tr '\n' ' ') left: $(ctr_ snapshots --snapshotter "$n" ls 2>&1 | tail -n +2 | tr '\n' ' ')"
  fi
done

# ---- shutdown: nothing left ------------------------------------------------------------------------
E2E_CURRENT=shutdown
containerd_stop
registry_stop
snaphost_terminate 20
# stargz-lazy's FUSE-serving process, idle and no longer attached, exits within fusedIdleExitMs.
check_clean_shutdown clean-shutdown "$W" --wait-processes

e2e_finish
