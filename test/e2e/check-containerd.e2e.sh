#!/usr/bin/env bash
# End to end for `snaphost check-containerd` against a RUNNING private containerd (1.6 by
# default, 2.x with E2E_CONTAINERD=2; CRI disabled, so CRI is reported as `cri-disabled`, a
# warning). One `snaphost serve` hosts memory, overlayfs-native and stargz-lazy (config A); a
# second config (B) adds a backend "ghost" that nothing serves.
#   - a containerd address that does not exist: exit 1 within the timeout, `containerd-unreachable`;
#   - containerd on `containerd-config --containerd MAJOR --fragment` of A, checked with A: exit 0,
#     per backend `proxy-plugin-ok` and `backend-serving` (2.x also `unpack-config` and
#     `proxy-plugin-address`, read from the running binary's `config dump` of its own --config),
#     no error; the human output has a block per backend and "result:"; `containerd-version`
#     names this major;
#   - the same containerd checked with B: ghost is `proxy-plugin-missing` (+ `backend-not-serving`,
#     on 2.x `no-unpack-config`), exit 1, the others still without error;
#   - containerd on B's fragment (a proxy plugin whose socket nobody serves): containerd lists it
#     as ok (it dials lazily), the check says `backend-not-serving` for ghost only, exit 1;
#   - 1.x: the same with --containerd-config FILE (1.x reports no PID, so its config is read only
#     when named): `proxy-plugin-address` for every backend;
#   - 2.x: containerd on A's proxy plugins WITHOUT the unpack_config entries: `no-unpack-config`
#     (error) for every backend, naming the table and the command that prints it, exit 1.
#   bash test/e2e/check-containerd.e2e.sh                 (root; needs `npm run build`)
#   E2E_CONTAINERD=2 bash test/e2e/check-containerd.e2e.sh
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/snaphost.sh"
. "$E2E_LIB/stargz-lazy.sh"

NAMES=(memory overlayfs-native stargz-lazy)
CTR_NAMESPACE=snaphost-e2e-checkcd
MAJOR=$(containerd_major)

e2e_require_cmds containerd ctr runc node jq awk fusermount
e2e_init "check-containerd-$MAJOR"
W=$E2E_WORK

snaphost_user_config <<EOF
    { use: 'memory', options: { size: '64m' } },
    { use: 'overlayfs-native', options: {} },
    { use: 'stargz-lazy', options: { fusedIdleExitMs: 1000 } },
EOF
CONFIG_A=$CONFIG
CONFIG_B=$W/plugins-ghost.config.ts
sed "s|^  backends: \[|&\n    { use: 'memory', name: 'ghost', options: { size: '16m' } },|" "$CONFIG_A" >"$CONFIG_B"
grep -q "name: 'ghost'" "$CONFIG_B" || e2e_die "could not add ghost to $CONFIG_B"
e2e_on_exit fused_stop "$W/state/stargz-lazy"

for c in A B; do
  v=CONFIG_$c
  snaphost_cli containerd-config --config "${!v}" --containerd "$MAJOR" --fragment >"$W/proxy-$c.toml" 2>"$W/cc-$c.err" ||
    e2e_die "containerd-config of config $c failed: $(tr '\n' ' ' <"$W/cc-$c.err")"
done
# A's proxy plugins without the transfer service's unpack entries (2.x prints them after them).
awk '/^# containerd 2.x transfer service/ || /^\[\[plugins\./ { exit } { print }' "$W/proxy-A.toml" >"$W/proxy-A-no-unpack.toml"

snaphost_start "$CONFIG_A"
snaphost_wait_serving "$W/sockets/memory.sock" "$W/sockets/overlayfs-native.sock" "$W/sockets/stargz-lazy.sock" || e2e_die "snaphost does not serve every backend"

# check NAME [ARGS...]: check-containerd --json ARGS; sets OUT (its JSON), RC, TOOK (ms).
check() {
  local name=$1 start
  shift
  start=$(date +%s%N)
  snaphost_cli check-containerd --json "$@" >"$W/$name.json" 2>"$W/$name.err"
  RC=$?
  TOOK=$((($(date +%s%N) - start) / 1000000))
  OUT=$(cat "$W/$name.json")
  e2e_log "$name: exit $RC after $TOOK ms: $(jq -c 'map([.backend // "-", .severity, .code])' <<<"$OUT" 2>/dev/null || head -c 300 "$W/$name.err")"
}
# has BACKEND CODE [SEVERITY]: the last check found CODE for BACKEND ("-": containerd itself).
has() {
  jq -e --arg b "$1" --arg c "$2" --arg s "${3:-}" 'any(.[]; (.backend // "-") == $b and .code == $c and ($s == "" or .severity == $s))' <<<"$OUT" >/dev/null 2>&1
}
# errors_of BACKEND: the codes of the last check's errors for BACKEND, comma-separated.
errors_of() { jq -r --arg b "$1" '[.[] | select((.backend // "-") == $b and .severity == "error") | .code] | join(",")' <<<"$OUT" 2>/dev/null; }

# ---- no containerd -----------------------------------------------------------------------------
E2E_CURRENT=unreachable
check unreachable --config "$CONFIG_A" --address "$W/no-such-containerd.sock" --timeout-ms 3000
if [[ $RC == 1 ]] && has - containerd-unreachable error && ((TOOK < 20000)) && grep -q 'does not exist' <<<"$OUT"; then
  e2e_pass unreachable-exit-1
else
  e2e_fail unreachable-exit-1 "exit $RC after $TOOK ms: $(head -c 400 <<<"$OUT") $(head -c 200 "$W/unreachable.err")"
fi

# ---- everything right ---------------------------------------------------------------------------
containerd_start "$W/proxy-A.toml"
E2E_CURRENT=all-ok
check all-ok --config "$CONFIG_A" --address "$CONTAINERD_ADDRESS"
bad=
[[ $RC == 0 ]] || bad+=" exit=$RC"
jq -e --arg m "$MAJOR" 'any(.[]; .code == "containerd-version" and .severity == "ok" and (.message | contains("(" + $m + ".x")))' <<<"$OUT" >/dev/null || bad+=" version"
for n in "${NAMES[@]}"; do
  has "$n" proxy-plugin-ok ok || bad+=" plugin-$n"
  has "$n" backend-serving ok || bad+=" serving-$n"
  if [[ $MAJOR == 2 ]]; then
    has "$n" unpack-config ok || bad+=" unpack-$n"
    has "$n" proxy-plugin-address ok || bad+=" address-$n"
  fi
  [[ -z $(errors_of "$n") ]] || bad+=" errors-$n:$(errors_of "$n")"
done
has - cri-disabled warning || bad+=" cri-disabled"
if [[ -z $bad ]]; then e2e_pass all-ok-exit-0; else e2e_fail all-ok-exit-0 "wrong:$bad"; fi
if [[ $MAJOR == 2 ]]; then
  # The dump was the running binary's, of the file it was started with.
  if jq -e --arg f "$CONTAINERD_DIR/config.toml" 'any(.[]; .code == "unpack-config" and (.message | contains($f)))' <<<"$OUT" >/dev/null; then
    e2e_pass dump-of-running-config
  else
    e2e_fail dump-of-running-config "$(jq -c '[.[] | select(.code == "unpack-config") | .message][0]' <<<"$OUT")"
  fi
fi

E2E_CURRENT=human
snaphost_cli check-containerd --config "$CONFIG_A" --address "$CONTAINERD_ADDRESS" >"$W/human.out" 2>&1
rc=$?
bad=
[[ $rc == 0 ]] || bad+=" exit=$rc"
grep -qxF "containerd ($CONTAINERD_ADDRESS):" "$W/human.out" || bad+=" containerd-block"
for n in "${NAMES[@]}"; do grep -qxF "backend $n:" "$W/human.out" || bad+=" block-$n"; done
grep -q '^result: 0 error(s), [0-9]* warning(s)$' "$W/human.out" || bad+=" result"
if [[ -z $bad ]]; then e2e_pass human-output; else e2e_fail human-output "wrong:$bad: $(head -c 600 "$W/human.out")"; fi

# ---- a backend containerd does not have --------------------------------------------------------
E2E_CURRENT=missing
check missing --config "$CONFIG_B" --address "$CONTAINERD_ADDRESS"
bad=
[[ $RC == 1 ]] || bad+=" exit=$RC"
has ghost proxy-plugin-missing error || bad+=" missing"
has ghost backend-not-serving error || bad+=" not-serving"
[[ $MAJOR == 1 ]] || has ghost no-unpack-config error || bad+=" no-unpack"
for n in "${NAMES[@]}"; do [[ -z $(errors_of "$n") ]] || bad+=" errors-$n:$(errors_of "$n")"; done
if [[ -z $bad ]]; then e2e_pass proxy-plugin-missing; else e2e_fail proxy-plugin-missing "wrong:$bad"; fi

# ---- a proxy plugin whose socket nobody serves -----------------------------------------------------
E2E_CURRENT=ghost
containerd_stop
containerd_start "$W/proxy-B.toml"
ghost_status=$(ctr_ plugins ls 2>&1 | awk '$1 == "io.containerd.snapshotter.v1" && $2 == "ghost" { print $NF }')
e2e_log "containerd lists the unserved proxy plugin ghost as: ${ghost_status:-absent}"
check ghost --config "$CONFIG_B" --address "$CONTAINERD_ADDRESS"
bad=
[[ $RC == 1 ]] || bad+=" exit=$RC"
has ghost backend-not-serving error || bad+=" not-serving"
if [[ $ghost_status == ok ]]; then
  has ghost proxy-plugin-ok ok || bad+=" plugin-ok"
  [[ $(errors_of ghost) == backend-not-serving ]] || bad+=" ghost-errors:$(errors_of ghost)"
else
  has ghost proxy-plugin-not-ok error || bad+=" plugin-not-ok"
fi
for n in "${NAMES[@]}"; do [[ -z $(errors_of "$n") ]] || bad+=" errors-$n:$(errors_of "$n")"; done
if [[ -z $bad ]]; then e2e_pass unserved-proxy-plugin; else e2e_fail unserved-proxy-plugin "wrong:$bad"; fi

if [[ $MAJOR == 1 ]]; then
  E2E_CURRENT=containerd-config-1x
  check dump-1x --config "$CONFIG_B" --address "$CONTAINERD_ADDRESS" --containerd-config "$CONTAINERD_DIR/config.toml"
  bad=
  for n in "${NAMES[@]}" ghost; do has "$n" proxy-plugin-address ok || bad+=" address-$n"; done
  has - config-dump-failed && bad+=" dump-failed"
  if [[ -z $bad ]]; then e2e_pass containerd-config-file-1x; else e2e_fail containerd-config-file-1x "wrong:$bad"; fi
fi

# ---- containerd 2.x without unpack_config ------------------------------------------------------------
if [[ $MAJOR == 2 ]]; then
  E2E_CURRENT=no-unpack-config
  containerd_stop
  containerd_start "$W/proxy-A-no-unpack.toml"
  check no-unpack --config "$CONFIG_A" --address "$CONTAINERD_ADDRESS"
  bad=
  [[ $RC == 1 ]] || bad+=" exit=$RC"
  for n in "${NAMES[@]}"; do
    has "$n" no-unpack-config error || bad+=" no-unpack-$n"
    has "$n" proxy-plugin-ok ok || bad+=" plugin-$n"
    [[ $(errors_of "$n") == no-unpack-config ]] || bad+=" errors-$n:$(errors_of "$n")"
  done
  jq -e 'any(.[]; .code == "no-unpack-config" and (.message | contains("[[plugins.\"io.containerd.transfer.v1.local\".unpack_config]]")) and (.message | contains("snaphost containerd-config --containerd 2 --fragment")))' <<<"$OUT" >/dev/null || bad+=" message"
  if [[ -z $bad ]]; then e2e_pass no-unpack-config-2x; else e2e_fail no-unpack-config-2x "wrong:$bad"; fi
fi

# ---- shutdown ------------------------------------------------------------------------------------
E2E_CURRENT=shutdown
containerd_stop
snaphost_terminate 20
if [[ $SNAPHOST_EXIT == 0 ]]; then e2e_pass sigterm-exit-0; else e2e_fail sigterm-exit-0 "snaphost exit status ${SNAPHOST_EXIT:-?}"; fi

e2e_finish
