# shellcheck shell=bash
# A Debian bookworm minbase root filesystem, built offline with debootstrap from the machine's
# own Debian mirror and cached as a tarball, so only the first run on a machine pays for it
# (~1.5-2 min). Sourced after common.sh.
#   debian_base_tarball      prints the path of the cached tarball, building it when missing
# Cache: $SNAPHOST_E2E_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/snaphost-e2e); delete
# debian-bookworm-minbase.tar there to rebuild. Builds are serialized with flock, so two test
# runs on one machine (a developer's and CI's) share one build.
# Env: DEB_MIRROR overrides the mirror (default: the first URIs:/deb line of the apt sources).

E2E_CACHE=${SNAPHOST_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/snaphost-e2e}
# Bump when the recipe below changes, so a stale cached tarball is not reused.
DEBIAN_BASE_RECIPE=1

debian_mirror() {
  local m=${DEB_MIRROR:-}
  [[ -n $m ]] || m=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null)
  [[ -n $m ]] || m=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
  echo "$m"
}

# Build the tarball into $1 (a path that does not exist yet).
debian_base_build() {
  local out=$1 mirror tmp rc
  mirror=$(debian_mirror)
  [[ -n $mirror ]] || { echo "no Debian mirror in the apt sources; set DEB_MIRROR" >&2; return 1; }
  tmp=$(mktemp -d "$E2E_CACHE/build.XXXXXX") || return 1
  e2e_log "debootstrap --variant=minbase bookworm from $mirror (first run only, ~2 min; log $tmp.log)"
  debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" >"$tmp.log" 2>&1
  rc=$?
  # debootstrap mounts proc/sys in the target while it works; a failed run may leave them.
  e2e_unmount_below "$tmp"
  if [[ $rc != 0 ]]; then
    e2e_log "debootstrap failed (exit $rc): $(tail -n 5 "$tmp.log" | tr '\n' ' ')"
    rm -rf "$tmp"
    return 1
  fi
  # What an image build would drop: downloaded packages, package lists, logs. Keeps the layer
  # (and every pull in the tests) smaller without changing what the image is.
  rm -rf "$tmp/rootfs/var/cache/apt/archives/"*.deb "$tmp/rootfs/var/lib/apt/lists/"* \
    "$tmp/rootfs/var/log/"*.log "$tmp/rootfs/var/cache/debconf/"*-old
  if ! tar --numeric-owner --xattrs --xattrs-include='*' -C "$tmp/rootfs" -cf "$tmp/base.tar" .; then
    rm -rf "$tmp"
    return 1
  fi
  mv "$tmp/base.tar" "$out"
  rm -rf "$tmp" "$tmp.log"
}

debian_base_tarball() {
  local tarball=$E2E_CACHE/debian-bookworm-minbase-r$DEBIAN_BASE_RECIPE.tar
  mkdir -p "$E2E_CACHE" || return 1
  (
    flock -w 900 9 || { echo "timed out waiting for $E2E_CACHE/.lock" >&2; exit 1; }
    [[ -s $tarball ]] && exit 0
    # What an interrupted build left (we hold the lock: no build is running).
    for stale in "$E2E_CACHE"/build.*; do
      [[ -e $stale ]] || continue
      e2e_unmount_below "$stale"
      rm -rf "$stale"
    done
    debian_base_build "$tarball"
  ) 9>"$E2E_CACHE/.lock" || return 1
  echo "$tarball"
}
