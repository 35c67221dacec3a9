#!/usr/bin/env bash
# What containerd's snapshotter suite cannot see: one snapshotter used by a REAL containerd to
# unpack an image and run a container on it. A private containerd (its own root, state and
# socket under a temp dir; the system's containerd is not touched) gets the snapshotter as a
# proxy plugin, imports a two-layer image built here offline (busybox, then a layer that deletes
# a file and adds one), runs a container on it, and removes the image so that containerd's GC
# removes every snapshot through the snapshotter.
#
#   SNAPSHOTTER_CMD='node dist/core/cli/snaphost.js serve --backend memory --root {root} --socket {socket}' \
#   SNAPSHOTTER_NAME=memory bash containerd-run.sh
#
# Env: CONTAINERD (the containerd binary, default: the one on PATH; its ctr beside it or on
# PATH), KEEP_WORKDIR=1 (keep the temp dir and its logs). Needs root, containerd, runc and a
# static busybox (installed with apt-get when missing, like run.sh's Go).
# Output: `PASS name` / `FAIL name: why` lines, then "N passed, N failed, N skipped".
set -uo pipefail
CONF_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$CONF_HERE/lib.sh"

passed=0 failed=0 skipped=0
pass() { echo "PASS containerd-run/$1"; passed=$((passed + 1)); }
fail() { echo "FAIL containerd-run/$1: $2"; failed=$((failed + 1)); }
summary() { echo "$passed passed, $failed failed, $skipped skipped"; }

conf_require_root
[ -n "${SNAPSHOTTER_CMD:-}" ] || { conf_log "SNAPSHOTTER_CMD is not set (see the header of $0)"; echo "0 passed, 1 failed"; exit 2; }
name=${SNAPSHOTTER_NAME:-snapshotter}
case "$name" in *[!A-Za-z0-9._-]*) conf_log "invalid SNAPSHOTTER_NAME: $name"; echo "0 passed, 1 failed"; exit 2 ;; esac

missing=()
command -v "${CONTAINERD:-containerd}" >/dev/null 2>&1 || missing+=(containerd)
command -v runc >/dev/null 2>&1 || missing+=(runc)
[[ $(ldd /bin/busybox 2>&1) == *'not a dynamic executable'* ]] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
  conf_log "installing with apt-get: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -qq -y -o DPkg::Lock::Timeout=120 install --no-install-recommends "${missing[@]}" >/dev/null ||
    { conf_log "apt-get install ${missing[*]} failed"; echo "0 passed, 1 failed"; exit 2; }
fi
containerd_bin=$(command -v "${CONTAINERD:-containerd}")
ctr_bin=$(dirname "$containerd_bin")/ctr
[ -x "$ctr_bin" ] || ctr_bin=$(command -v ctr)

work=$(mktemp -d /tmp/snaphost-containerd-run.XXXXXX)
chmod 700 "$work"
backend_pid= containerd_pid=
cleanup() {
  [ -n "$containerd_pid" ] && kill "$containerd_pid" 2>/dev/null && wait "$containerd_pid" 2>/dev/null
  [ -n "$backend_pid" ] && kill "$backend_pid" 2>/dev/null && wait "$backend_pid" 2>/dev/null
  # Mounts a crashed step left under the work dir, deepest first; then the dir itself.
  awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
  if [ "${KEEP_WORKDIR:-0}" = 1 ]; then conf_log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
log_tail() { tail -n 5 "$1" 2>/dev/null | tr '\n' ' '; }

# 1. The snapshotter, as the conformance harness serves it.
mkdir -p "$work/backend-root"
cmd=${SNAPSHOTTER_CMD//\{root\}/$(printf %q "$work/backend-root")}
cmd=${cmd//\{socket\}/$(printf %q "$work/backend.sock")}
bash -c "$cmd" >"$work/backend.log" 2>&1 </dev/null &
backend_pid=$!
for _ in $(seq 1 300); do [ -S "$work/backend.sock" ] && break; kill -0 "$backend_pid" 2>/dev/null || break; sleep 0.1; done
if [ ! -S "$work/backend.sock" ]; then fail serve "the snapshotter did not listen on its socket: $(log_tail "$work/backend.log")"; summary; exit 1; fi

# 2. A private containerd with the snapshotter as a proxy plugin.
major=$("$containerd_bin" --version | awk '{ split($3, v, "."); sub(/^v/, "", v[1]); print v[1] }')
version=2 disabled='"io.containerd.grpc.v1.cri"'
if [ "$major" -ge 2 ] 2>/dev/null; then
  version=3 disabled='"io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.podsandbox.controller.v1.podsandbox", "io.containerd.grpc.v1.sandbox-controllers"'
fi
cat >"$work/containerd.toml" <<EOF
version = $version
root = "$work/containerd/root"
state = "$work/containerd/state"
disabled_plugins = [$disabled]
[grpc]
  address = "$work/containerd.sock"
[ttrpc]
  address = "$work/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[proxy_plugins]
  [proxy_plugins."$name"]
    type = "snapshot"
    address = "$work/backend.sock"
EOF
PATH=$(dirname "$containerd_bin"):$PATH "$containerd_bin" --config "$work/containerd.toml" >"$work/containerd.log" 2>&1 </dev/null &
containerd_pid=$!
ctr_() { timeout 120 "$ctr_bin" --address "$work/containerd.sock" --namespace snaphost-containerd-run "$@"; }
for _ in $(seq 1 200); do ctr_ version >/dev/null 2>&1 && break; kill -0 "$containerd_pid" 2>/dev/null || break; sleep 0.1; done
if ctr_ version >/dev/null 2>&1; then pass containerd-start; else fail containerd-start "$(log_tail "$work/containerd.log")"; summary; exit 1; fi

# 3. The image, offline: layer 1 busybox, layer 2 deletes /etc/hostname (a whiteout) and adds /data/hello.
img=$work/image
mkdir -p "$img/l1/"{bin,etc,tmp,proc,sys,dev,root} "$img/l2/etc" "$img/l2/data" "$img/oci/blobs/sha256"
cp /bin/busybox "$img/l1/bin/busybox"
for a in sh cat test echo; do ln -s busybox "$img/l1/bin/$a"; done
echo snaphost >"$img/l1/etc/hostname"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$img/l1/etc/passwd"
: >"$img/l2/etc/.wh.hostname"
echo hello-from-layer-2 >"$img/l2/data/hello"
blob() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$img/oci/blobs/sha256/$d"; echo "$d"; }
diffs=() layers=()
for l in l1 l2; do
  tar --sort=name --mtime='2024-01-01 00:00:00Z' --owner=0 --group=0 --numeric-owner -C "$img/$l" -cf "$img/$l.tar" .
  diffs+=("sha256:$(sha256sum "$img/$l.tar" | cut -d' ' -f1)")
  gzip -n "$img/$l.tar"
  layers+=("$(stat -c %s "$img/$l.tar.gz") $(blob "$img/$l.tar.gz")")
done
printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["%s","%s"]}}' \
  "$(dpkg --print-architecture 2>/dev/null || echo amd64)" "${diffs[0]}" "${diffs[1]}" >"$img/config.json"
config_size=$(stat -c %s "$img/config.json") config=$(blob "$img/config.json")
{
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[' "$config" "$config_size"
  sep=
  for l in "${layers[@]}"; do
    printf '%s{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}' "$sep" "${l#* }" "${l%% *}"
    sep=,
  done
  printf ']}'
} >"$img/manifest.json"
manifest_size=$(stat -c %s "$img/manifest.json") manifest=$(blob "$img/manifest.json")
ref=snaphost.test/containerd-run:latest
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest" "$manifest_size" "$ref" >"$img/oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$img/oci/oci-layout"
tar -C "$img/oci" -cf "$img/image.tar" .

# 4. Unpack through the snapshotter, run a container on it, look at what containerd recorded.
if out=$(ctr_ images import --snapshotter "$name" --all-platforms "$img/image.tar" 2>&1) && ctr_ images ls -q | grep -qx "$ref"; then
  pass import
else
  fail import "ctr images import: $(echo "$out" | tail -n 3 | tr '\n' ' ') $(log_tail "$work/backend.log")"; summary; exit 1
fi
committed=$(ctr_ snapshots --snapshotter "$name" ls | awk '$NF == "Committed"' | wc -l)
if [ "$committed" = 2 ]; then pass committed-layers; else fail committed-layers "containerd lists $committed committed snapshots, expected 2"; fi
script='test ! -e /etc/hostname && cat /data/hello && echo written >/root/new && cat /root/new'
if out=$(ctr_ run --rm --snapshotter "$name" "$ref" "containerd-run-$$" /bin/sh -c "$script" 2>&1) && [ "$out" = "$(printf 'hello-from-layer-2\nwritten')" ]; then
  pass run
else
  fail run "the container printed: $(echo "$out" | tail -n 3 | tr '\n' ' ') (expected the layer-2 file, no whiteouted file, a write)"
fi

# 5. Remove the image: containerd's GC removes every snapshot through the snapshotter.
ctr_ images rm --sync "$ref" >/dev/null 2>&1
left=$(ctr_ snapshots --snapshotter "$name" ls | tail -n +2 | wc -l)
if [ "$left" = 0 ]; then pass gc-removes-snapshots; else fail gc-removes-snapshots "$left snapshots left after the image was removed"; fi
# containerd's GC removes each backend snapshot once; one the snapshotter refuses is logged
# (metadata/snapshot.go: "failed to remove snapshot"; db.go: "snapshot garbage collection
# failed") and not asked again: the snapshotter keeps it while containerd no longer lists it.
if grep -E 'failed to remove snapshot|snapshot garbage collection failed' "$work/containerd.log" >"$work/gc-errors"; then
  fail gc-clean "containerd logged: $(head -n 2 "$work/gc-errors" | tr '\n' ' ')"
else
  pass gc-clean
fi
summary
[ "$failed" = 0 ]
