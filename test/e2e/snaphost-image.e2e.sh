#!/usr/bin/env bash
# End to end for the snaphost OCI image (scripts/build-image.sh), built from this checkout and
# run by a private containerd (1.6 by default, 2.x with E2E_CONTAINERD=2) with `ctr run
# --privileged`, the config mounted read-only at /etc/snaphost as a ConfigMap is:
#   - built twice (the second time pushed to a plain-HTTP registry with --push): the same
#     manifest digest, and --push prints REGISTRY/REPO@<that digest>;
#   - compressed size under E2E_IMAGE_MAX_MB (default 60); config: created = the commit's time,
#     the revision label = the commit, every history entry at that time, entrypoint and cmd
#     `snaphost serve --config /etc/snaphost/plugins.config.ts`, no layer entry newer than it,
#     every entry owned by 0:0, no path of this machine (checkout, work dir, staging) inside;
#   - pulled from the registry by containerd, then in containers of it: `snaphost check` of a
#     config with memory, overlayfs-native and stargz-lazy passes (the .ts config loader, every
#     backend created, libfuse2 found by ldconfig); lmdb and fuse-native load and work; mount,
#     umount, nsenter, fusermount run;
#   - run with no command (the image's own entrypoint and cmd): it serves every backend's
#     socket on the host-mounted /run/snaphost, answers `snaphost wait-ready`, exits 0 on
#     SIGTERM and leaves no socket and no mount.
#   bash test/e2e/snaphost-image.e2e.sh            (root; needs `npm run build`)
#   E2E_CONTAINERD=2 bash test/e2e/snaphost-image.e2e.sh
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/registry.sh"

MAJOR=$(containerd_major)
CTR_NAMESPACE=snaphost-e2e-image
MAX_MB=${E2E_IMAGE_MAX_MB:-60}
NAMES=(memory overlayfs-native stargz-lazy)

e2e_require_cmds containerd ctr runc node jq skopeo docker-registry strip tar git
e2e_init "snaphost-image-$MAJOR"
W=$E2E_WORK
[[ -f $REPO_ROOT/dist/core/cli/snaphost.js ]] || e2e_die "dist/ is missing: run 'npm run build' first"
registry_start

# build NAME [ARGS...]: scripts/build-image.sh --out $W/NAME ARGS; stdout line in $W/NAME.out.
build() {
  local name=$1 start=$SECONDS
  shift
  if ! bash "$REPO_ROOT/scripts/build-image.sh" --out "$W/$name" --tag e2e "$@" >"$W/$name.out" 2>"$W/$name.log"; then
    tail -n 15 "$W/$name.log" >&2
    e2e_die "build-image.sh ($name) failed"
  fi
  e2e_log "build $name: $((SECONDS - start)) s, $(tail -n 1 "$W/$name.out")"
}

E2E_CURRENT=build
build first
build second --push "$REGISTRY/snaphost:e2e"
DIGEST=$(tail -n 1 "$W/first.out")
PUSHED=$(tail -n 1 "$W/second.out")
if [[ $DIGEST =~ ^sha256:[0-9a-f]{64}$ && $(jq -r '.manifests[0].digest' "$W/second/index.json") == "$DIGEST" ]]; then
  e2e_pass reproducible-digest
else
  e2e_fail reproducible-digest "first $DIGEST, second $(jq -r '.manifests[0].digest' "$W/second/index.json")"
fi
if [[ $PUSHED == "$REGISTRY/snaphost@$DIGEST" ]]; then e2e_pass push-prints-pinned-ref; else e2e_fail push-prints-pinned-ref "printed '$PUSHED'"; fi

# The manifest, config and layers of the first build.
L=$W/first
blob() { echo "$L/blobs/sha256/${1#sha256:}"; }
MANIFEST=$(blob "$DIGEST")
CONFIG_BLOB=$(blob "$(jq -r .config.digest "$MANIFEST")")
size=$(jq '[.layers[].size] | add' "$MANIFEST")
if ((size < MAX_MB * 1000000)); then e2e_pass "size-under-${MAX_MB}MB"; else e2e_fail "size-under-${MAX_MB}MB" "$size bytes"; fi
e2e_log "compressed size $size bytes in $(jq '.layers | length' "$MANIFEST") layers"

commit=$(git -C "$REPO_ROOT" rev-parse HEAD)
epoch=$(git -C "$REPO_ROOT" log -1 --format=%ct HEAD)
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
e2e_check config-created-is-commit-time test "$(jq -r .created "$CONFIG_BLOB")" == "$created"
e2e_check config-history-times jq -e --arg c "$created" '[.history[].created] | length > 0 and all(. == $c)' "$CONFIG_BLOB"
e2e_check config-revision-label jq -e --arg r "$commit" '.config.Labels["org.opencontainers.image.revision"] | . == $r or . == ($r + "-dirty")' "$CONFIG_BLOB"
e2e_check config-entrypoint jq -e '.config.Entrypoint == ["/usr/local/bin/snaphost"] and .config.Cmd == ["serve", "--config", "/etc/snaphost/plugins.config.ts"]' "$CONFIG_BLOB"

# Every layer: entries owned by 0:0, none newer than the commit; unpacked in order into one tree.
ROOTFS=$W/rootfs
mkdir -p "$ROOTFS"
bad=
for d in $(jq -r '.layers[].digest' "$MANIFEST"); do
  listing=$(TZ=UTC tar --numeric-owner --full-time -tvzf "$(blob "$d")") || { bad+=" $d:unreadable"; continue; }
  awk '$2 != "0/0" { bad = 1 } END { exit bad }' <<<"$listing" || bad+=" ${d:7:12}:owner"
  newest=$(awk '{ print $4 "T" $5 "Z" }' <<<"$listing" | sort | tail -n 1)
  [[ $newest < "$created" || $newest == "$created" ]] || bad+=" ${d:7:12}:time-$newest"
  tar -xzf "$(blob "$d")" -C "$ROOTFS" || bad+=" ${d:7:12}:extract"
done
if [[ -z $bad ]]; then e2e_pass layers-owner-and-time; else e2e_fail layers-owner-and-time "$bad"; fi
missing=
for p in opt/snaphost/node/bin/node opt/snaphost/app/package.json opt/snaphost/app/dist/core/cli/snaphost.js \
  opt/snaphost/app/proto opt/snaphost/app/node_modules/lmdb opt/snaphost/app/node_modules/fuse-native usr/local/bin/snaphost \
  usr/bin/mount usr/bin/umount usr/bin/nsenter usr/bin/fusermount usr/bin/sh usr/sbin/ldconfig etc/ssl/certs/ca-certificates.crt \
  etc/ld.so.cache etc/os-release; do
  [[ -e $ROOTFS/$p || -L $ROOTFS/$p ]] || missing+=" $p"
done
if [[ -z $missing ]]; then e2e_pass image-layout; else e2e_fail image-layout "missing:$missing"; fi
leaks=$(grep -rlaF -e "$REPO_ROOT/" -e "$W/" -e "/snaphost-image." -e "$HOME/.npm" "$ROOTFS" 2>/dev/null | head -n 5 | tr '\n' ' ')
if [[ -z $leaks ]]; then e2e_pass no-build-machine-paths; else e2e_fail no-build-machine-paths "found in: $leaks"; fi
rm -rf "$ROOTFS"

# The config, mounted read-only as a ConfigMap is; state and sockets on host paths.
mkdir -p "$W/etc" "$W/run" "$W/state"
cat >"$W/etc/plugins.config.ts" <<'EOF'
import { defineConfig } from 'snaphost';

export default defineConfig({
  socketDir: '/run/snaphost',
  rootDir: '/var/lib/snaphost',
  backends: [
    { use: 'memory', options: { size: '32m' } },
    { use: 'overlayfs-native', options: {} },
    { use: 'stargz-lazy', options: { fusedIdleExitMs: 1000 } },
  ],
});
EOF
: >"$W/proxy.toml"
E2E_CURRENT=containerd
containerd_start "$W/proxy.toml"
REF=$REGISTRY/snaphost:e2e
e2e_check pull-from-registry ctr_ images pull --plain-http "$REF"
e2e_check pulled-digest-is-built-digest test "$(ctr_ images ls | awk -v r="$REF" '$1 == r { print $3 }')" == "$DIGEST"

MOUNTS=(--mount "type=bind,src=$W/etc,dst=/etc/snaphost,options=rbind:ro"
  --mount "type=bind,src=$W/run,dst=/run/snaphost,options=rbind:rw"
  --mount "type=bind,src=$W/state,dst=/var/lib/snaphost,options=rbind:rshared:rw")
n=0
# in_image CMD...: run CMD in a new privileged container of the image; its output on stdout.
in_image() {
  n=$((n + 1))
  ctr_ run --rm --privileged "${MOUNTS[@]}" "$REF" "image-$$-$n" "$@" 2>&1
}

out=$(in_image snaphost check --config /etc/snaphost/plugins.config.ts)
rc=$?
echo "$out" >"$W/check.out"
if [[ $rc == 0 ]] && grep -q 'libfuse.so.2 is installed' <<<"$out"; then
  e2e_pass check-in-image
else
  e2e_fail check-in-image "exit $rc: $(tail -n 6 <<<"$out" | tr '\n' ' ')"
fi

NATIVE='
const fuse = require("/opt/snaphost/app/node_modules/fuse-native");
if (typeof fuse !== "function") throw new Error("fuse-native did not load");
import("/opt/snaphost/app/node_modules/lmdb/node-index.js").then(async ({ open }) => {
  const db = open({ path: "/tmp/lmdb-probe" });
  await db.put("k", { v: 42 });
  if (db.get("k").v !== 42) throw new Error("lmdb read back wrong");
  await db.close();
  console.log("native-ok", process.version);
});'
out=$(in_image node -e "$NATIVE")
if grep -q "^native-ok v$SNAPHOST_NODE_VERSION" <<<"$out"; then e2e_pass native-modules-in-image; else e2e_fail native-modules-in-image "$(tail -n 4 <<<"$out" | tr '\n' ' ')"; fi

out=$(in_image sh -c 'mount --version && umount --version && nsenter --version && fusermount -V && ldconfig -p')
if grep -q '^mount from util-linux' <<<"$out" && grep -q '^nsenter from util-linux' <<<"$out" &&
  grep -q 'fusermount version' <<<"$out" && grep -q 'libfuse.so.2' <<<"$out"; then
  e2e_pass tools-in-image
else
  e2e_fail tools-in-image "$(tail -n 4 <<<"$out" | tr '\n' ' ')"
fi

# The image's own entrypoint and cmd: serve until SIGTERM.
E2E_CURRENT=serve
ID=serve-$$
ctr_ run --rm --privileged "${MOUNTS[@]}" "$REF" "$ID" >"$W/serve.log" 2>&1 &
SERVE_PID=$!
e2e_add_log serve "$W/serve.log"
e2e_on_exit "ctr_ task kill -s SIGKILL $ID >/dev/null 2>&1; e2e_stop_pid $SERVE_PID 10"
serving=0
for ((i = 0; i < 300; i++)); do
  if [[ -S $W/run/memory.sock && -S $W/run/overlayfs-native.sock && -S $W/run/stargz-lazy.sock ]]; then serving=1; break; fi
  kill -0 "$SERVE_PID" 2>/dev/null || break
  sleep 0.2
done
if [[ $serving == 1 ]]; then e2e_pass serve-entrypoint-sockets; else e2e_fail serve-entrypoint-sockets "no sockets in $W/run: $(tail -n 3 "$W/serve.log" | tr '\n' ' ')"; fi
e2e_check wait-ready-in-image ctr_ task exec --exec-id "ready-$$" "$ID" snaphost wait-ready --config /etc/snaphost/plugins.config.ts --timeout 30
ctr_ task kill -s SIGTERM "$ID" >/dev/null 2>&1
wait "$SERVE_PID"
serve_rc=$?
left=$(ls "$W/run" | tr '\n' ' ')
mounts=$(e2e_mounts_below "$W/state" | tr '\n' ' ')
if [[ $serve_rc == 0 && -z ${left// /} && -z $mounts ]]; then
  e2e_pass serve-sigterm-clean
else
  e2e_fail serve-sigterm-clean "exit $serve_rc; sockets: ${left:-none}; mounts: ${mounts:-none}"
fi

e2e_finish
