#!/usr/bin/env bash
# End to end for a registry outage under lazily pulled layers: one `snaphost serve` hosts
# `stargz-lazy` (readTimeoutMs 3000, prefetch and background fetch off, so what is cached is
# exactly what was read) and `overlayfs-native`; a private containerd 1.6 reaches both.
# The probe image of lib/estargz-images.sh (busybox + a data layer with a 12 MiB victim.bin) is
# rpulled, a container runs on it and reads a few files; then the registry (docker-registry,
# started by this test) is stopped by its PID:
#   - cached files still read in the running container;
#   - an uncached file read fails with EIO (Input/output error) within readTimeoutMs + slack;
#   - `ctr run` of the partly cached image fails at once with UNAVAILABLE, naming the layer and
#     the unreachable registry (a container started then would fail its reads: refusing to
#     start it is the correct answer), and `ctr snapshots ls` still answers;
#   - `snaphost status` reports the layer unavailable with the reason and its cached share;
#   - overlayfs-native, served by the same daemon, runs a container;
# the registry restarted on the same port (same storage):
#   - the same read in the same container returns the right bytes (no restart of anything);
#   - `ctr run` of the image works again (the availability probe is memoized for 3 s);
# then every file of the image is read (fully cached) and the registry stopped again:
#   - `ctr run` of the fully cached image works and reads victim.bin right, registry down.
#   bash test/e2e/stargz-lazy-outage.e2e.sh   (root; needs `npm run build` and scripts/install-deps.sh)
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
OFN=overlayfs-native
CTR_NAMESPACE=snaphost-e2e-outage
READ_TIMEOUT_MS=3000
# ctr task exec start-up and FUSE round trips on a loaded machine.
SLACK_MS=3000
# How long the FUSE process reuses a registry probe's answer (fused/served-mounts.ts).
PROBE_TTL_S=3

e2e_require_cmds containerd ctr ctr-remote runc docker-registry skopeo umoci jq curl node openssl flock tar fusermount
e2e_init stargz-lazy-outage
W=$E2E_WORK
sock() { echo "$W/sockets/$1.sock"; }
ROOT=$W/state/$SN

registry_start
probe_build

# docker-registry again on the same address and storage (its config is kept in the work dir).
registry_restart() {
  local dir=$E2E_WORK/registry i
  docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 </dev/null &
  REGISTRY_PID=$!
  for ((i = 0; i < 150; i++)); do
    curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1 && return 0
    kill -0 "$REGISTRY_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

snaphost_user_config <<EOF
    {
      use: '$SN',
      options: { readTimeoutMs: $READ_TIMEOUT_MS, prefetch: { enabled: false }, backgroundFetch: { enabled: false } },
    },
    { use: '$OFN', options: {} },
EOF
E2E_CURRENT=containerd-config
snaphost_proxy_toml

E2E_CURRENT=serve
e2e_on_exit fused_stop "$ROOT"
snaphost_start "$CONFIG"
e2e_add_log fused "$ROOT/fused.log"
snaphost_wait_serving "$(sock "$SN")" "$(sock "$OFN")" || e2e_die "snaphost does not serve $(sock "$SN") and $(sock "$OFN")"
containerd_start "$PROXY_TOML"
ctr_wait_snapshotter "$SN" 20 || e2e_die "containerd cannot reach $SN"
e2e_pass serving

E2E_CURRENT=images
esgz_push "$PROBE_OCI" "$PROBE_TAG" snaphost-e2e/probe
PROBE_ESGZ=$REGISTRY/snaphost-e2e/probe:esgz
PROBE_GZIP=$REGISTRY/snaphost-e2e/probe:gzip
mapfile -t PROBE_LAYERS < <(esgz_layers "$PROBE_ESGZ")
DATA_LAYER=${PROBE_LAYERS[1]%% *}
VICTIM_SHA=$(probe_victim_bytes | sha256sum | cut -d' ' -f1)

ctr_ images pull --plain-http --snapshotter "$OFN" "$PROBE_GZIP" >"$W/pull-gzip.log" 2>&1 ||
  e2e_die "pull of $PROBE_GZIP into $OFN failed: $(tail -n 3 "$W/pull-gzip.log" | tr '\n' ' ')"
if out=$(timeout 120 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" image rpull --plain-http --snapshotter "$SN" "$PROBE_ESGZ" 2>&1); then
  e2e_pass rpull-probe
else
  e2e_die "rpull $PROBE_ESGZ failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
fi
fuse_count() { local n; n=$(fuse_mounts_below "$ROOT" | grep -c .); [[ $n == 2 ]] || { echo "$n FUSE mounts below $ROOT, expected 2"; return 1; }; }
e2e_check one-fuse-mount-per-layer fuse_count

# ---- a container on the lazily pulled image; a few files read (cached) ------------------------------
E2E_CURRENT=container
CID=outage-$$
ctr_ run -d --snapshotter "$SN" "$PROBE_ESGZ" "$CID" /bin/sh -c 'sleep 3600' >"$W/run-d.log" 2>&1 ||
  e2e_die "ctr run -d failed: $(tail -n 3 "$W/run-d.log" | tr '\n' ' ')"
e2e_on_exit "ctr_ task kill -s KILL $CID >/dev/null 2>&1; sleep 1; ctr_ task rm -f $CID >/dev/null 2>&1; ctr_ containers rm $CID >/dev/null 2>&1; true"
EXECS=0
# in_ctr SCRIPT: run SCRIPT with /bin/sh in the running container; stdout+stderr, exit status.
in_ctr() {
  EXECS=$((EXECS + 1))
  ctr_ task exec --exec-id "x$EXECS-$$" "$CID" /bin/sh -c "$1" 2>&1
}
running() { [[ $(ctr_ task ls 2>/dev/null | awk -v c="$CID" '$1 == c { print $3 }') == RUNNING ]]; }
e2e_wait 20 running || e2e_die "the container $CID does not run: $(ctr_ task ls 2>&1 | tr '\n' ' ')"
out=$(in_ctr "cat /data/bystander.txt /data/small/s01.txt")
if [[ $out == "$PROBE_BYSTANDER_TEXT"$'\n'"small file 01" ]]; then e2e_pass read-before-outage; else e2e_die "reads before the outage: $out"; fi

# ---- the registry goes away ------------------------------------------------------------------------
E2E_CURRENT=outage
registry_stop
curl -fsS -m 2 "http://$REGISTRY/v2/" >/dev/null 2>&1 && e2e_die "the registry still answers on $REGISTRY after it was stopped"
e2e_log "registry on $REGISTRY stopped"

out=$(in_ctr "cat /data/bystander.txt /data/small/s01.txt")
if [[ $out == "$PROBE_BYSTANDER_TEXT"$'\n'"small file 01" ]]; then
  e2e_pass outage-cached-files-read
else
  e2e_fail outage-cached-files-read "got: $(head -c 300 <<<"$out" | tr '\n' '|')"
fi

start=$(date +%s%N)
out=$(in_ctr "cat /data/victim.bin >/dev/null && echo READ-OK")
ms=$((($(date +%s%N) - start) / 1000000))
e2e_log "uncached read during the outage: ${ms} ms: $(tr '\n' '|' <<<"$out")"
if [[ $out != *READ-OK* ]] && grep -qi 'I/O error\|Input/output error' <<<"$out"; then
  e2e_pass outage-uncached-read-eio
else
  e2e_fail outage-uncached-read-eio "expected an I/O error, got: $(head -c 300 <<<"$out" | tr '\n' '|')"
fi
if ((ms < READ_TIMEOUT_MS + SLACK_MS)); then
  e2e_pass outage-uncached-read-bounded
else
  e2e_fail outage-uncached-read-bounded "the failing read took $ms ms (bound $READ_TIMEOUT_MS ms + $SLACK_MS ms slack)"
fi
if grep -q 'read of /data/victim.bin' "$ROOT/fused.log"; then e2e_pass outage-read-logged; else e2e_fail outage-read-logged "no line naming /data/victim.bin in $ROOT/fused.log"; fi

# A new container on the partly cached image: refused with UNAVAILABLE, at once, saying why.
start=$(date +%s%N)
out=$(ctr_ run --rm --snapshotter "$SN" "$PROBE_ESGZ" "outage-new-$$" /bin/true 2>&1)
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
e2e_log "ctr run during the outage (${ms} ms, exit $rc): $(tail -n 2 <<<"$out" | tr '\n' '|')"
if [[ $rc != 0 ]] && grep -qi 'unavailable' <<<"$out" && grep -qF "$DATA_LAYER" <<<"$out" && grep -qF "registry $REGISTRY unreachable" <<<"$out" &&
  grep -qE '[0-9]+ percent of the layer is cached' <<<"$out"; then
  e2e_pass outage-run-unavailable
else
  e2e_fail outage-run-unavailable "exit $rc: $(tail -n 3 <<<"$out" | tr '\n' '|')"
fi
if ((ms < 10000)); then e2e_pass outage-run-answers-quickly; else e2e_fail outage-run-answers-quickly "ctr run took $ms ms to fail"; fi
ctr_ containers rm "outage-new-$$" >/dev/null 2>&1

if out=$(ctr_ snapshots --snapshotter "$SN" ls 2>&1) && grep -q Committed <<<"$out"; then
  e2e_pass outage-snapshots-ls
else
  e2e_fail outage-snapshots-ls "$(tail -n 3 <<<"$out" | tr '\n' '|')"
fi

# `snaphost status` says which layer is unavailable and why, and how much of it is cached.
lazy_layers() { snaphost_cli status --config "$CONFIG" --json | jq -c --arg b "$SN" '.backends[] | select(.name == $b) | .layers'; }
if layers=$(lazy_layers 2>&1) && jq -e --arg d "$DATA_LAYER" --arg r "registry $REGISTRY unreachable" '
    length == 2 and (map(select(.digest == $d))[0] | .state == "unavailable" and (.reason | contains($r)) and .fetchedBytes < .totalBytes)' <<<"$layers" >/dev/null; then
  e2e_pass outage-status-names-layer
else
  e2e_fail outage-status-names-layer "snaphost status layers: $(head -c 400 <<<"$layers")"
fi

out=$(ctr_ run --rm --snapshotter "$OFN" "$PROBE_GZIP" "outage-ofn-$$" /bin/sh -c 'cat /data/bystander.txt' 2>&1)
if [[ $out == "$PROBE_BYSTANDER_TEXT" ]]; then e2e_pass outage-other-backend-runs; else e2e_fail outage-other-backend-runs "got: $(tail -n 3 <<<"$out" | tr '\n' '|')"; fi

# ---- the registry comes back on the same port ---------------------------------------------------------
E2E_CURRENT=recovery
registry_restart || e2e_die "docker-registry did not come back on $REGISTRY"
e2e_log "registry back on $REGISTRY (pid $REGISTRY_PID)"
out=$(in_ctr "sha256sum </data/victim.bin")
if [[ $out == "$VICTIM_SHA  -" ]]; then
  e2e_pass recovery-uncached-read-works
else
  e2e_fail recovery-uncached-read-works "want $VICTIM_SHA, got: $(head -c 300 <<<"$out" | tr '\n' '|')"
fi
sleep "$PROBE_TTL_S"
run_ok() { [[ $(ctr_ run --rm --snapshotter "$SN" "$PROBE_ESGZ" "recovered-$$-$RANDOM" /bin/sh -c 'cat /data/small/s20.txt' 2>&1) == "small file 20" ]]; }
all_available() { lazy_layers | jq -e 'length == 2 and all(.state == "available")' >/dev/null; }
if e2e_wait 10 all_available; then e2e_pass recovery-status-available; else e2e_fail recovery-status-available "snaphost status layers: $(lazy_layers 2>&1 | head -c 400)"; fi
if e2e_wait 15 run_ok; then e2e_pass recovery-run-works; else e2e_fail recovery-run-works "ctr run still fails: $(ctr_ run --rm --snapshotter "$SN" "$PROBE_ESGZ" "recovered-$$" /bin/true 2>&1 | tail -n 2 | tr '\n' '|')"; fi

# ---- fully cached: the registry is no longer needed -----------------------------------------------------
E2E_CURRENT=fully-cached
out=$(in_ctr "find / -xdev -type f -exec cat {} + >/dev/null && echo ALL-READ")
[[ $out == *ALL-READ* ]] || e2e_fail fully-cached-read-all "reading every file: $(tail -n 3 <<<"$out" | tr '\n' '|')"
registry_stop
sleep "$PROBE_TTL_S"
out=$(ctr_ run --rm --snapshotter "$SN" "$PROBE_ESGZ" "cached-$$" /bin/sh -c 'sha256sum </data/victim.bin' 2>&1)
if [[ $out == "$VICTIM_SHA  -" ]]; then
  e2e_pass fully-cached-runs-registry-down
else
  e2e_fail fully-cached-runs-registry-down "got: $(tail -n 3 <<<"$out" | tr '\n' '|')"
fi
registry_restart || e2e_log "docker-registry did not come back for the clean-up"

# ---- clean up: container, images, snapshots; nothing left behind ----------------------------------------
E2E_CURRENT=shutdown
ctr_ task kill -s KILL "$CID" >/dev/null 2>&1
gone() { ! ctr_ task ls 2>/dev/null | awk -v c="$CID" '$1 == c { f = 1 } END { exit !f }'; }
e2e_wait 10 gone || ctr_ task rm -f "$CID" >/dev/null 2>&1
ctr_ task rm -f "$CID" >/dev/null 2>&1
ctr_ containers rm "$CID" >/dev/null 2>&1
for img in "$PROBE_ESGZ" "$PROBE_GZIP"; do ctr_ images rm --sync "$img" >/dev/null 2>&1 || e2e_fail image-rm "ctr images rm --sync $img failed"; done
no_fuse() { [[ -z $(fuse_mounts_below "$ROOT") ]]; }
if e2e_wait 30 no_fuse; then e2e_pass gc-no-fuse-mounts; else e2e_fail gc-no-fuse-mounts "left: $(fuse_mounts_below "$ROOT" | tr '\n' ' ')"; fi
containerd_stop
snaphost_terminate 20
check_sigterm_exit
fused_stop "$ROOT"
check_no_leftovers "$ROOT"

e2e_finish
