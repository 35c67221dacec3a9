# shellcheck shell=bash
# Looking at an overlay backend's root from outside: `<root>/snapshots/<id>/{fs,work}`, plus
# `new-*` temp dirs while a create is in flight. Sourced after common.sh.
#   overlay_dir_names ROOT           names under <root>/snapshots, sorted (none if it is missing)
#   overlay_dir_count ROOT           how many
#   overlay_du ROOT                  disk usage of <root>/snapshots in KiB (0 if it is missing)
#   overlay_malformed ROOT           entries that are not a snapshot dir (not a directory with fs/)
#   overlay_mount_ids ROOT MOUNTPOINT  the snapshot ids whose fs/ dirs the overlay or bind mount
#                                    at MOUNTPOINT uses (from /proc/self/mountinfo), sorted

overlay_dir_names() {
  [[ -d $1/snapshots ]] || return 0
  find "$1/snapshots" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort
}

overlay_dir_count() { overlay_dir_names "$1" | wc -l; }

overlay_du() {
  [[ -d $1/snapshots ]] || { echo 0; return 0; }
  du -sk "$1/snapshots" | cut -f1
}

overlay_malformed() {
  local n
  for n in $(overlay_dir_names "$1"); do
    [[ -d $1/snapshots/$n/fs ]] || echo "$n"
  done
}

overlay_mount_ids() {
  local root=$1 mp=$2
  awk -v mp="$mp" '$5 == mp { for (i = 4; i <= NF; i++) if (i != 5) print $i }' /proc/self/mountinfo |
    tr ',:' '\n\n' | grep -oE "^(lowerdir=|upperdir=)?$root/snapshots/[^/]+/fs" |
    sed -E "s#^(lowerdir=|upperdir=)?$root/snapshots/([^/]+)/fs#\\2#" | LC_ALL=C sort -u
}
