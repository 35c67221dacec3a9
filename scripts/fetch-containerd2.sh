#!/usr/bin/env bash
# Fetches Debian's containerd 2.x (from Debian's unstable suite, whose binaries run on Debian 12)
# into a cache directory, WITHOUT installing it: a private apt configuration downloads the .deb
# (`apt-get download`) and `dpkg-deb -x` unpacks it. The system's containerd (1.6 on Debian 12)
# is never touched. Prints the directory holding `containerd`, `ctr` and
# `containerd-shim-runc-v2` on stdout (put it FIRST on PATH when starting this containerd, so
# that it starts its own shim and `ctr` is the 2.x client).
#   bash scripts/fetch-containerd2.sh            -> e.g. /var/cache/snaphost/containerd-2.1.9+ds1-5/usr/bin
# Environment:
#   SNAPHOST_CACHE                cache root (default /var/cache/snaphost)
#   SNAPHOST_CONTAINERD2_VERSION  a Debian version to fetch (default: the suite's candidate;
#                                 once fetched, the newest cached one is used without apt)
#   SNAPHOST_DEBIAN_MIRROR        the Debian mirror (default: the one this machine's apt uses)
set -euo pipefail

CACHE=${SNAPHOST_CACHE:-/var/cache/snaphost}
WANT=${SNAPHOST_CONTAINERD2_VERSION:-}
log() { echo "[fetch-containerd2] $*" >&2; }

usable() { # DIR: the unpacked binaries run here and say they are 2.x
  [[ -x $1/containerd && -x $1/ctr && -x $1/containerd-shim-runc-v2 ]] &&
    "$1/containerd" --version 2>/dev/null | grep -qE ' v?2\.[0-9]+\.[0-9]+'
}

# A cached copy: the wanted version, or (none wanted) the newest one fetched so far.
if [[ -n $WANT ]]; then
  dir=$CACHE/containerd-$WANT/usr/bin
  if usable "$dir"; then echo "$dir"; exit 0; fi
else
  dir=$(ls -d "$CACHE"/containerd-2.*/usr/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n $dir ]] && usable "$dir"; then echo "$dir"; exit 0; fi
fi

# The mirror this machine's apt already uses for Debian (deb822 or one-line sources).
mirror=${SNAPHOST_DEBIAN_MIRROR:-}
if [[ -z $mirror ]]; then
  mirror=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?' | grep -v security | head -n 1 || true)
fi
[[ -n $mirror ]] || { log "no Debian mirror found in /etc/apt (set SNAPHOST_DEBIAN_MIRROR)"; exit 1; }
mirror=${mirror%/}

mkdir -p "$CACHE"
apt_dir=$(mktemp -d "$CACHE/apt.XXXXXX")
trap 'rm -rf "$apt_dir"' EXIT
mkdir -p "$apt_dir"/{etc/sources.list.d,etc/preferences.d,etc/apt.conf.d,lists/partial,cache/archives/partial,dl}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -f $keyring ]] || { log "$keyring is missing (apt-get install debian-archive-keyring)"; exit 1; }
echo "deb [signed-by=$keyring] $mirror unstable main" >"$apt_dir/etc/sources.list"
apt_opts=(
  -o "Dir::Etc=$apt_dir/etc" -o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list"
  -o "Dir::Etc::sourceparts=$apt_dir/etc/sources.list.d" -o "Dir::Etc::preferencesparts=$apt_dir/etc/preferences.d"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::State::status=/dev/null"
  -o "APT::Sandbox::User=root" -o "Acquire::Retries=3"
)
log "apt-get update (Debian unstable, private config)"
apt-get "${apt_opts[@]}" -qq update >&2
version=${WANT:-$(apt-cache "${apt_opts[@]}" policy containerd | awk '/Candidate:/ { print $2 }')}
[[ -n $version && $version != "(none)" ]] || { log "Debian unstable has no containerd package"; exit 1; }
[[ $version == 2.* ]] || { log "Debian unstable's containerd is $version, not 2.x"; exit 1; }
log "apt-get download containerd=$version"
(cd "$apt_dir/dl" && apt-get "${apt_opts[@]}" -qq download "containerd=$version" >&2)
deb=$(ls "$apt_dir"/dl/containerd_*.deb)
dest=$CACHE/containerd-$version
rm -rf "$dest.tmp"
dpkg-deb -x "$deb" "$dest.tmp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
usable "$dest/usr/bin" || { log "$dest/usr/bin: the unpacked containerd does not run or is not 2.x"; exit 1; }
log "containerd $version in $dest/usr/bin"
echo "$dest/usr/bin"
