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
# ca-certificates (tools the scripts use).
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

APT_PACKAGES=(
  containerd runc docker-registry skopeo umoci busybox-static debootstrap attr openssl
  golang-go golang-github-containerd-containerd-dev stargz-snapshotter
  fuse libfuse2 python3 curl jq iproute2 util-linux mount ca-certificates
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

check_node() {
  command -v node >/dev/null 2>&1 || { log "node is not installed: snaphost needs Node.js >= 20.10 (Debian 12's nodejs is 18: use Node.js 20 from nodejs.org or NodeSource)"; exit 1; }
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=10)?0:1)' ||
    { log "node $(node -v) is too old: snaphost needs Node.js >= 20.10"; exit 1; }
  command -v npm >/dev/null 2>&1 || { log "npm is not installed"; exit 1; }
}

npm_install() {
  # Already installed and matching package-lock.json: nothing to do.
  if [[ -d node_modules ]] && npm ls --all >/dev/null 2>&1; then return 0; fi
  local npmlog
  npmlog=$(mktemp)
  log "npm ci"
  if npm ci --no-audit --no-fund >"$npmlog" 2>&1; then rm -f "$npmlog"; return 0; fi
  # npm >= 11 refuses a lockfile that lacks the other platforms' optional packages (rollup's
  # native builds) when the registry it sees does not have them; `npm install` then installs
  # the same locked versions without rewriting the lockfile.
  log "npm ci failed ($(grep -m1 'npm error' "$npmlog" || tail -n 1 "$npmlog")); falling back to npm install --no-save"
  if npm install --no-audit --no-fund --no-save >"$npmlog" 2>&1; then rm -f "$npmlog"; return 0; fi
  log "npm install failed:"
  tail -n 30 "$npmlog" >&2
  exit 1
}

apt_install
check_node
npm_install
if [[ $build == 1 ]]; then
  log "npm run build"
  npm run --silent build
fi
log "ok"
