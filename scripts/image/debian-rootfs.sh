#!/usr/bin/env bash
# The image's base layer: a minimal Debian 12 root file system assembled from the Debian
# packages named in scripts/image/debian-packages.list (only the paths kept there), with the
# usr-merged layout of Debian 12 (/bin, /sbin, /lib, /lib64 are symlinks into /usr).
#
#   bash scripts/image/debian-rootfs.sh --out DIR [--cache DIR] [--arch amd64|arm64]
#
# Packages: the candidate version of each, as this machine's apt sources resolve it
# (`apt-cache show`), taken from --cache (default /var/cache/snaphost/image-debs) or apt's own
# archive cache when a file there has the sha256 apt's index names, else downloaded
# (`apt-get download`) into --cache and checked the same way. Nothing is installed on this
# machine and no maintainer script runs: files are unpacked (`dpkg-deb --fsys-tarfile`).
# What scripts do at install is done here instead: the CA bundle, the dynamic linker's cache.
# Writes DIR/../debian-packages.txt ("name version sha256" per line): what the layer is made of.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIST=$HERE/debian-packages.list
OUT= CACHE=/var/cache/snaphost/image-debs ARCH=
while (($#)); do
  case $1 in
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --cache) CACHE=${2:?--cache needs a directory}; shift 2 ;;
    --arch) ARCH=${2:?--arch needs amd64 or arm64}; shift 2 ;;
    *) echo "debian-rootfs: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ -n $OUT ]] || { echo "debian-rootfs: --out DIR is required" >&2; exit 2; }
ARCH=${ARCH:-$(dpkg --print-architecture)}
case $ARCH in
  amd64) TRIPLET=x86_64-linux-gnu ;;
  arm64) TRIPLET=aarch64-linux-gnu ;;
  *) echo "debian-rootfs: architecture '$ARCH' is not supported (amd64, arm64)" >&2; exit 2 ;;
esac
for tool in apt-cache apt-get dpkg-deb tar sha256sum ldconfig; do
  command -v "$tool" >/dev/null || { echo "debian-rootfs: '$tool' is needed (a Debian or Ubuntu build machine)" >&2; exit 1; }
done
log() { echo "[debian-rootfs] $*" >&2; }

mkdir -p "$CACHE"
[[ ! -e $OUT ]] || [[ -z $(ls -A "$OUT") ]] || { echo "debian-rootfs: $OUT is not empty" >&2; exit 2; }
mkdir -p "$OUT"
MANIFEST=$(dirname "$OUT")/debian-packages.txt
: >"$MANIFEST"
STATUS_DIR=$OUT/var/lib/dpkg/status.d

# The usr-merged skeleton, before anything is unpacked: tar keeps these symlinks
# (--keep-directory-symlink), so a package's ./bin/x lands in usr/bin/x.
mkdir -p "$OUT/usr/bin" "$OUT/usr/sbin" "$OUT/usr/lib" "$OUT/usr/lib64" "$STATUS_DIR"
ln -s usr/bin "$OUT/bin"
ln -s usr/sbin "$OUT/sbin"
ln -s usr/lib "$OUT/lib"
ln -s usr/lib64 "$OUT/lib64"

# deb_path NAME: the verified .deb of NAME's candidate version (printed), fetched if needed.
deb_path() {
  local name=$1 info version filename sha file candidate tmp
  info=$(apt-cache show --no-all-versions "$name:$ARCH" 2>/dev/null || apt-cache show --no-all-versions "$name" 2>/dev/null) ||
    { log "apt knows no package '$name' (apt-get update? bookworm sources?)"; return 1; }
  version=$(awk -F': ' '$1 == "Version" { print $2; exit }' <<<"$info")
  filename=$(awk -F': ' '$1 == "Filename" { print $2; exit }' <<<"$info")
  sha=$(awk -F': ' '$1 == "SHA256" { print $2; exit }' <<<"$info")
  [[ -n $version && -n $filename && $sha =~ ^[0-9a-f]{64}$ ]] || { log "apt's index has no version, file or sha256 for '$name'"; return 1; }
  file=$CACHE/${filename##*/}
  for candidate in "$file" "/var/cache/apt/archives/${filename##*/}"; do
    if [[ -f $candidate ]] && [[ $(sha256sum "$candidate" | cut -d' ' -f1) == "$sha" ]]; then
      echo "$name $version $sha" >>"$MANIFEST"
      echo "$candidate"
      return 0
    fi
  done
  log "downloading $name $version"
  tmp=$(mktemp -d "$CACHE/.download.XXXXXX")
  if ! (cd "$tmp" && apt-get download -q=2 "$name=$version" >/dev/null 2>"$tmp/apt.log"); then
    log "apt-get download $name=$version failed:"; tail -n 5 "$tmp/apt.log" >&2; rm -rf "$tmp"; return 1
  fi
  local got
  got=$(find "$tmp" -maxdepth 1 -name '*.deb' -print -quit)
  if [[ -z $got ]] || [[ $(sha256sum "$got" | cut -d' ' -f1) != "$sha" ]]; then
    log "$name $version: the download does not have the sha256 apt's index names ($sha)"; rm -rf "$tmp"; return 1
  fi
  mv "$got" "$file"
  rm -rf "$tmp"
  echo "$name $version $sha" >>"$MANIFEST"
  echo "$file"
}

while read -r name paths; do
  [[ -z $name || $name == \#* ]] && continue
  deb=$(deb_path "$name")
  patterns=()
  if [[ $paths != '*' ]]; then
    for p in $paths; do patterns+=("./$p"); done
  fi
  # --wildcards: a kept path may be a glob (ca-certificates' mozilla/*); a missing one is an error.
  dpkg-deb --fsys-tarfile "$deb" |
    tar -x -C "$OUT" --keep-directory-symlink --no-same-owner --no-same-permissions --wildcards "${patterns[@]}" ||
    { log "unpacking $name (${paths}) failed"; exit 1; }
  # What scanners read to know which packages (and versions) the image holds, as distroless does.
  dpkg-deb -f "$deb" >"$STATUS_DIR/$name"
done <"$LIST"

# What maintainer scripts would have made.
mkdir -p "$OUT/etc/ssl/certs"
find "$OUT/usr/share/ca-certificates/mozilla" -name '*.crt' -print0 | LC_ALL=C sort -z | xargs -0 cat >"$OUT/etc/ssl/certs/ca-certificates.crt"
rm -rf "$OUT/usr/share/ca-certificates"
ldconfig -r "$OUT"
rm -rf "$OUT/var/cache/ldconfig"

# Drop what a daemon never reads.
rm -rf "$OUT/usr/share/doc" "$OUT/usr/share/man" "$OUT/usr/share/info" "$OUT/usr/share/locale" \
  "$OUT/usr/share/lintian" "$OUT/usr/share/bug" "$OUT/usr/share/gdb" "$OUT/usr/share/gcc" \
  "$OUT/usr/share/bash-completion" "$OUT/usr/lib/$TRIPLET/gconv"
find "$OUT/usr/share" -depth -type d -empty -delete 2>/dev/null || true

# The rest of a root file system: root's account, name resolution, the config's mount point.
mkdir -p "$OUT/etc/snaphost" "$OUT/root" "$OUT/run" "$OUT/tmp" "$OUT/var/tmp"
chmod 1777 "$OUT/tmp" "$OUT/var/tmp"
chmod 0755 "$OUT/root"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n' >"$OUT/etc/passwd"
printf 'root:x:0:\n' >"$OUT/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$OUT/etc/nsswitch.conf"
log "$(wc -l <"$MANIFEST") packages unpacked into $OUT"
