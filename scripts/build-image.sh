#!/usr/bin/env bash
# Builds the snaphost OCI image from this checkout, reproducibly: the same commit and the same
# Debian packages give the same manifest digest (docs/kubernetes.md, "The image").
#
#   bash scripts/build-image.sh [--out DIR] [--tag TAG] [--push REGISTRY/REPO:TAG]
#                               [--deb-cache DIR] [--keep-staging]
#
# Needs: `npm run build` done (dist/ is taken as it is), snaphost's Node.js runtime installed
# (scripts/install-deps.sh), a Debian/Ubuntu machine's apt (the Debian 12 packages of the base
# layer), `strip`, g++ make python3 (the addon); skopeo for --push. Run as root (unpacked packages and ldconfig).
#
# Layers, from the least to the most often changed (an upgrade ships only what changed):
#   1. Debian 12 base (scripts/image/debian-rootfs.sh)    2. Node.js runtime (bin/node, stripped)
#   3. production node_modules (npm ci --omit=dev)          4. the app: package.json, dist/, proto/,
#                                                              the kernel FUSE addon (built here)
# The image's `created` is the commit's time (SOURCE_DATE_EPOCH); every entry of a layer has
# the time of the last commit that changed that layer's inputs.
# Prints the manifest digest on stdout (with --push: REGISTRY/REPO@sha256:..., to pin by).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/build/image TAG= PUSH= DEB_CACHE=/var/cache/snaphost/image-debs KEEP=0
while (($#)); do
  case $1 in
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --tag) TAG=${2:?--tag needs a tag}; shift 2 ;;
    --push) PUSH=${2:?--push needs REGISTRY/REPO:TAG}; shift 2 ;;
    --deb-cache) DEB_CACHE=${2:?--deb-cache needs a directory}; shift 2 ;;
    --keep-staging) KEEP=1; shift ;;
    -h | --help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done
log() { echo "[build-image] $*" >&2; }
die() { log "$*"; exit 1; }

# shellcheck source=scripts/lib/node-runtime.sh
source "$ROOT/scripts/lib/node-runtime.sh"
snaphost_node_installed || die "snaphost's Node.js runtime is not installed: run 'bash scripts/install-deps.sh'"
[[ $(id -u) == 0 ]] || die "run as root (Debian packages are unpacked with their modes, ldconfig -r)"
[[ -f $ROOT/dist/core/cli/snaphost.js ]] || die "dist/ is missing: run 'npm run build' first"
command -v strip >/dev/null || die "'strip' is needed (binutils)"
if [[ -n $PUSH ]]; then command -v skopeo >/dev/null || die "--push needs skopeo"; fi

# What the image is of: the commit (and whether the tree differs from it), its time.
cd "$ROOT"
REVISION=$(git rev-parse HEAD) || die "not a git checkout: the image is built from a commit"
if [[ -n $(git status --porcelain --untracked-files=no -- core backends proto package.json package-lock.json scripts) ]]; then
  log "warning: the checkout differs from $REVISION (the image is labelled $REVISION-dirty)"
  REVISION=$REVISION-dirty
fi
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD)}
export SOURCE_DATE_EPOCH
VERSION=$(node -p 'require("./package.json").version')
TAG=${TAG:-$VERSION}
SOURCE=${SNAPHOST_IMAGE_SOURCE:-unknown}
case $(uname -m) in x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; *) die "unsupported machine $(uname -m)" ;; esac

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/snaphost-image.XXXXXX")
cleanup() { if [[ $KEEP == 1 ]]; then log "staging kept in $STAGE"; else rm -rf "$STAGE"; fi; }
trap cleanup EXIT
started=$SECONDS

log "1/4 Debian 12 base"
bash "$ROOT/scripts/image/debian-rootfs.sh" --out "$STAGE/base" --cache "$DEB_CACHE" --arch "$ARCH"

log "2/4 Node.js $SNAPHOST_NODE_VERSION"
NODE_DIR=$STAGE/node/opt/snaphost/node
mkdir -p "$NODE_DIR/bin"
# --strip-all keeps the dynamic symbol table the addons link against; drops 18 MB of debug info.
strip --strip-all -o "$NODE_DIR/bin/node" "$SNAPHOST_NODE_HOME/bin/node"
cp "$SNAPHOST_NODE_HOME/LICENSE" "$NODE_DIR/LICENSE"

log "3/4 production node_modules (npm ci --omit=dev)"
MODS=$STAGE/modules/opt/snaphost/app
mkdir -p "$MODS"
cp package.json package-lock.json "$MODS/"
# Install scripts do not run (--ignore-scripts): lmdb, msgpackr and fuse-native load their
# prebuilt binaries (glibc, N-API) at run time, and snaphost's own (the kernel FUSE addon) is
# built in step 4 from this commit's sources. --prefer-offline: npm's cache first.
(cd "$MODS" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >"$STAGE/npm.log" 2>&1) ||
  { tail -n 20 "$STAGE/npm.log" >&2; die "npm ci failed"; }
rm -f "$MODS/package.json" "$MODS/package-lock.json" "$MODS/node_modules/.package-lock.json"
node "$ROOT/scripts/image/prune-node-modules.mjs" "$MODS/node_modules" "$ARCH" "$(node -p process.versions.modules)" >&2

log "4/4 the app"
APP=$STAGE/app/opt/snaphost/app
mkdir -p "$APP" "$STAGE/app/usr/local/bin"
cp package.json "$APP/"
cp -r proto "$APP/proto"
# dist/ without source maps and declarations (nothing reads them at run time).
(cd "$ROOT" && find dist -type f -name '*.js' -print0 | xargs -0 cp --parents -t "$APP")
# The kernel FUSE transport's N-API addon, built as `npm install` builds it (scripts/build-native.mjs,
# node-gyp offline against this runtime's headers) from the commit's sources in a scratch tree,
# stripped; the loader (fuse-kernel/fuse-device.js) finds it at the same place under the app.
NATIVE=backends/stargz-lazy/fuse-kernel/native
mkdir -p "$STAGE/native/$NATIVE" "$STAGE/native/scripts" "$APP/$NATIVE/build/Release"
cp "$ROOT/$NATIVE/binding.gyp" "$ROOT/$NATIVE"/*.c "$ROOT/$NATIVE"/*.h "$STAGE/native/$NATIVE/"
cp "$ROOT/scripts/build-native.mjs" "$STAGE/native/scripts/"
(cd "$STAGE/native" && SNAPHOST_NATIVE=required npm_execpath= node scripts/build-native.mjs) >"$STAGE/native.log" 2>&1 ||
  { tail -n 30 "$STAGE/native.log" >&2; die "building the kernel FUSE transport's addon failed (g++, make, python3 installed?)"; }
strip --strip-unneeded -o "$APP/$NATIVE/build/Release/snaphost_fuse_kernel.node" "$STAGE/native/$NATIVE/build/Release/snaphost_fuse_kernel.node"
cat >"$STAGE/app/usr/local/bin/snaphost" <<'EOF'
#!/bin/sh
exec /opt/snaphost/node/bin/node /opt/snaphost/app/dist/core/cli/snaphost.js "$@"
EOF
chmod 0755 "$STAGE/app/usr/local/bin/snaphost"

# inputs_epoch FILE...: the time of the last commit that changed FILEs, at most
# SOURCE_DATE_EPOCH (the time of every entry of a layer made from them: an unchanged layer
# keeps its digest from one commit to the next).
inputs_epoch() {
  local t
  t=$(git log -1 --format=%ct HEAD -- "$@")
  [[ -n $t && $t -le $SOURCE_DATE_EPOCH ]] || t=$SOURCE_DATE_EPOCH
  echo "$t"
}

log "writing the OCI layout into $OUT"
if [[ -e $OUT ]]; then
  [[ -f $OUT/oci-layout || -z $(ls -A "$OUT") ]] || die "$OUT exists and is not an OCI layout: not overwriting it"
  rm -rf "$OUT"
fi
summary=$(node "$ROOT/scripts/image/write-image.mjs" --out "$OUT" --tag "$TAG" --epoch "$SOURCE_DATE_EPOCH" --arch "$ARCH" \
  --revision "$REVISION" --version "$VERSION" --source "$SOURCE" \
  --layer "$STAGE/base" --layer-epoch "$(inputs_epoch scripts/image/debian-rootfs.sh scripts/image/debian-packages.list)" \
  --created-by "debian 12 base: $(awk '{print $1 "=" $2}' "$STAGE/debian-packages.txt" | paste -sd' ')" \
  --layer "$STAGE/node" --layer-epoch "$(inputs_epoch scripts/lib/node-runtime.sh)" --created-by "node $SNAPHOST_NODE_VERSION" \
  --layer "$STAGE/modules" --layer-epoch "$(inputs_epoch package-lock.json scripts/image/prune-node-modules.mjs)" \
  --created-by "npm ci --omit=dev (package-lock.json)" \
  --layer "$STAGE/app" --layer-epoch "$SOURCE_DATE_EPOCH" --created-by "snaphost $VERSION dist/ proto/ package.json fuse-kernel addon")
echo "$summary" >"$OUT.summary.json"
DIGEST=$(node -e 'const s=JSON.parse(process.argv[1]); console.log(s.manifest.digest)' "$summary")
node -e '
const s = JSON.parse(process.argv[1]);
const mb = (n) => (n / 1e6).toFixed(1) + " MB";
for (const l of s.layers) console.error(`[build-image]   ${l.digest.slice(7, 19)} ${mb(l.size).padStart(9)}  ${l.createdBy.slice(0, 70)}`);
console.error(`[build-image] compressed size ${mb(s.layers.reduce((a, l) => a + l.size, 0))}`);
' "$summary"
log "done in $((SECONDS - started)) s: $OUT ($TAG) manifest $DIGEST"

if [[ -n $PUSH ]]; then
  # REGISTRY[:PORT]/REPO:TAG, the tag after the last slash.
  last=${PUSH##*/}
  [[ $PUSH == */* && $last == *:* && -n ${last#*:} ]] || die "--push $PUSH: give REGISTRY/REPO:TAG"
  repo=${PUSH%:*}
  tls=()
  case ${PUSH%%/*} in 127.0.0.1:* | localhost:* | '[::1]':*) tls=(--dest-tls-verify=false) ;; esac
  # --preserve-digests: the registry must hold the very manifest built here (no recompression).
  skopeo copy --quiet --preserve-digests "${tls[@]}" "oci:$OUT:$TAG" "docker://$PUSH" >&2 || die "skopeo copy to $PUSH failed"
  echo "${repo}@${DIGEST}"
else
  echo "$DIGEST"
fi
