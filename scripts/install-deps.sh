#!/usr/bin/env bash
# Installs everything snaphost and its tests need on Debian 12 (as root), then the npm
# dependencies, then builds. Idempotent and quiet: packages already installed are not touched,
# npm dependencies already in place are kept.
#   bash scripts/install-deps.sh [--no-build]
# Debian packages: containerd + runc (e2e), docker-registry + skopeo + umoci + busybox-static
# + debootstrap + attr + openssl (the e2e registry and test images: a Debian base built offline
# from the machine's Debian mirror, a layer with user.* xattrs, seeded random data),
# golang-go + golang-github-containerd-containerd-dev (containerd's snapshotter conformance
# suite, built from Debian's Go sources),
# stargz-snapshotter (ctr-remote), fuse + libfuse2 (fusermount and the library FUSE backends use;
# stargz-lazy serves its layers with fuse-native), python3 (a test checks xattr errno values with
# ctypes), curl jq iproute2 util-linux mount
# ca-certificates (tools the scripts use), g++ + make (+ python3) for node-gyp: `npm ci` builds the
# kernel FUSE transport's N-API addon (scripts/build-native.mjs; SNAPHOST_NATIVE=required here,
# so a failed build fails the install instead of leaving the transport unbuilt).
# Node.js: not Debian's (bookworm's nodejs is 18). snaphost's own pinned Node.js LTS and npm are
# fetched with `npm pack` from the npm registry's packaged binaries, verified against the sha512
# pinned in scripts/lib/node-runtime.sh and unpacked into /opt/snaphost (SNAPHOST_NODE_ROOT);
# any npm on the machine downloads them, and on a machine with none Debian's npm package is
# installed only for that. npm ci then runs on that runtime, so native addons match it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
build=1
case "${1:-}" in
  --no-build) build=0 ;;
  '') ;;
  *) echo "usage: $0 [--no-build]" >&2; exit 2 ;;
esac

log() { echo "[install-deps] $*" >&2; }
# shellcheck source=scripts/lib/node-runtime.sh
source "$ROOT/scripts/lib/node-runtime.sh"

APT_PACKAGES=(
  containerd runc docker-registry skopeo umoci busybox-static debootstrap attr openssl
  golang-go golang-github-containerd-containerd-dev stargz-snapshotter
  fuse libfuse2 python3 curl jq iproute2 util-linux mount ca-certificates binutils
  g++ make
)

missing_packages() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}

apt_install() {
  local missing aptlog i
  mapfile -t missing < <(missing_packages)
  [[ ${#missing[@]} -gt 0 ]] || return 0
  if [[ $(id -u) != 0 ]]; then
    log "missing Debian packages: ${missing[*]} (run this script as root to install them)"
    exit 1
  fi
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  aptlog=$(mktemp)
  # Another apt/dpkg (unattended-upgrades, a parallel job) may hold the lock: wait, then retry.
  for i in 1 2 3 4 5 6; do
    if apt-get -qq -o DPkg::Lock::Timeout=120 update >"$aptlog" 2>&1 &&
       apt-get -qq -y -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
         install --no-install-recommends "${missing[@]}" >>"$aptlog" 2>&1; then
      rm -f "$aptlog"
      mapfile -t missing < <(missing_packages)
      [[ ${#missing[@]} -eq 0 ]] && return 0
      log "still missing after apt-get install: ${missing[*]}"
      exit 1
    fi
    log "apt-get failed (dpkg lock busy?), retry $i/6 in 10 s; last lines:"
    tail -n 5 "$aptlog" >&2
    sleep 10
  done
  log "apt-get install failed; full log: $aptlog"
  exit 1
}

# snaphost's own Node.js (scripts/lib/node-runtime.sh): pinned, verified, never the system's.
node_runtime() {
  if [[ $(id -u) != 0 ]] && ! snaphost_node_installed && [[ ! -w $(dirname "$SNAPHOST_NODE_ROOT") && ! -w $SNAPHOST_NODE_ROOT ]]; then
    log "Node.js $SNAPHOST_NODE_VERSION is not installed in $SNAPHOST_NODE_ROOT: run this script as root (or set SNAPHOST_NODE_ROOT to a writable directory)"
    exit 1
  fi
  snaphost_node_install || { log "installing the Node.js runtime failed"; exit 1; }
  snaphost_node_require
}

npm_install() {
  # Already installed for this runtime and matching package-lock.json: nothing to do. A
  # node_modules installed under another Node.js is installed again (native addons).
  local marker=node_modules/.snaphost-node-version npmlog
  if [[ -d node_modules ]] && [[ $(cat "$marker" 2>/dev/null) == "$(node --version)" ]] && npm ls --all >/dev/null 2>&1; then
    # The dependencies are in place; the addon (npm ci's install script) may not be (a checkout
    # that predates it, or a clean of its build/): build only it.
    [[ -f backends/stargz-lazy/fuse-kernel/native/build/Release/snaphost_fuse_kernel.node ]] && return 0
    log "building the kernel FUSE transport's addon"
    SNAPHOST_NATIVE=required node scripts/build-native.mjs || exit 1
    return 0
  fi
  npmlog=$(mktemp)
  log "npm ci"
  if SNAPHOST_NATIVE=required npm ci --no-audit --no-fund >"$npmlog" 2>&1; then rm -f "$npmlog"; node --version >"$marker"; return 0; fi
  # npm >= 11 refuses a lockfile that lacks the other platforms' optional packages (rollup's
  # native builds) when the registry it sees does not have them; `npm install` then installs
  # the same locked versions without rewriting the lockfile.
  log "npm ci failed ($(grep -m1 'npm error' "$npmlog" || tail -n 1 "$npmlog")); falling back to npm install --no-save"
  if SNAPHOST_NATIVE=required npm install --no-audit --no-fund --no-save >"$npmlog" 2>&1; then rm -f "$npmlog"; node --version >"$marker"; return 0; fi
  log "npm install failed:"
  tail -n 30 "$npmlog" >&2
  exit 1
}

apt_install
node_runtime
npm_install
if [[ $build == 1 ]]; then
  log "npm run build"
  npm run --silent build
fi
log "ok"
