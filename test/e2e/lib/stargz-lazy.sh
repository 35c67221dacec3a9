# shellcheck shell=bash
# Looking at a lazy (FUSE-backed) snapshotter from outside, and cleaning up after it. Sourced
# after common.sh and tree-manifest.sh.
#   fuse_mounts_below DIR          mount points of FUSE file systems below DIR, one a line
#   fused_pids ROOT                PIDs of the stargz-lazy FUSE-serving process of backend root
#                                  ROOT (`…/fused/main.js --root ROOT`): it is detached from
#                                  snaphost and outlives it on purpose
#   fused_keeper_pids ROOT         PIDs of its connection keeper (fs.transport "kernel": the
#                                  keeper's command line names fused/main.js too)
#   fused_stop ROOT                stop the keeper and that process (SIGTERM, then SIGKILL; the
#                                  keeper first: it forwards SIGTERM and starts nothing again) and
#                                  unmount every FUSE mount left below ROOT
#   lazy_tree_manifest DIR         tree_manifest without the entries a lazy snapshotter hides
#                                  (eStargz's /stargz.index.json and prefetch landmarks), hard
#                                  links told by link count (FUSE layers' inode numbers collide)
#   lazy_tree_compare NAME REF DIR PASS NAME when the two lazy manifests are equal

fuse_mounts_below() {
  local dir=$1
  awk -v d="$dir/" '{ sep = 0; for (i = 7; i <= NF; i++) if ($i == "-") { sep = i; break } }
    sep && index($5, d) == 1 && $(sep + 1) ~ /^fuse/ { print $5 }' /proc/self/mountinfo
}

fused_pids() {
  local root=$1 p cmd
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    [[ $cmd == *fused/main.js* && $cmd != *fuse-kernel/keeper/main.js* && " $cmd " == *" --root $root "* ]] && echo "${p#/proc/}"
  done
  return 0
}

fused_keeper_pids() {
  local root=$1 p cmd
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    [[ $cmd == *fuse-kernel/keeper/main.js* && " $cmd " == *" --root $root "* ]] && echo "${p#/proc/}"
  done
  return 0
}

fused_stop() {
  local root=$1 p m
  for p in $(fused_keeper_pids "$root") $(fused_pids "$root"); do
    e2e_log "stopping the FUSE-serving process (or its keeper) $p of $root"
    e2e_stop_pid "$p" 10 || e2e_log "could not stop $p"
  done
  fuse_mounts_below "$root" | sort -r | while read -r m; do
    fusermount -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || e2e_log "could not unmount $m"
  done
}

lazy_tree_manifest() {
  TREE_MANIFEST_NLINK=1 tree_manifest "$1" | grep -vE $'^(xattr\t)?\\./(stargz\\.index\\.json|\\.prefetch\\.landmark|\\.no\\.prefetch\\.landmark)\t'
}

lazy_tree_compare() {
  local name=$1 ref=$2 dir=$3 out=$E2E_WORK/manifests d
  mkdir -p "$out"
  lazy_tree_manifest "$ref" >"$out/$name.reference.txt" || { e2e_fail "$name" "cannot read the reference tree $ref"; return 1; }
  lazy_tree_manifest "$dir" >"$out/$name.txt" || { e2e_fail "$name" "cannot read $dir"; return 1; }
  if [[ ! -s $out/$name.reference.txt ]]; then e2e_fail "$name" "the reference tree $ref is empty"; return 1; fi
  if d=$(diff "$out/$name.reference.txt" "$out/$name.txt"); then
    e2e_pass "$name"
    rm -f "$out/$name.txt" "$out/$name.reference.txt"
    return 0
  fi
  e2e_fail "$name" "$(grep -c '^[<>]' <<<"$d") lines differ from the reference ($out/$name.txt): $(grep '^[<>]' <<<"$d" | head -n 6 | tr '\t\n' ' |')"
  return 1
}
