# shellcheck shell=bash
# A canonical description of a directory tree, to tell whether an unpacked image is
# byte-identical to a reference unpack. Sourced after common.sh.
#   tree_manifest DIR           prints it (sorted, relative paths)
#   tree_compare NAME REF DIR   PASS NAME when DIR's manifest equals REF's, else FAIL with the
#                               first differences (both manifests kept in the work dir)
# One line per entry: path, type, mode (with setuid/setgid/sticky), uid, gid, and per type:
#   file     size, mtime (s), sha256, hard-link group (the first path of the inode, if shared)
#   symlink  target, mtime (s)
#   other    (dir, fifo, device) nothing more: a directory's size and mtime depend on the
#            file system and on the order entries were made
# then one line per user.* extended attribute (path, name, hex value). Inode numbers are used
# only to group hard links among the names visible in the tree.
# Env: TREE_MANIFEST_NLINK=1 groups only names whose link count is above 1 (for an overlay of
# lower layers on different file systems, e.g. FUSE layers, whose inode numbers can collide
# across layers while every real hard link still shows its link count).

tree_manifest() {
  local dir=$1
  (
    cd "$dir" || exit 1
    {
      find . -printf '%p\t%y\t%m\t%U\t%G\t%i\t%T@\t%s\t%l\t%n\n'
      echo '--sha256'
      find . -type f -print0 | xargs -0 -r sha256sum
      echo '--xattrs'
      getfattr -R -P -h -d -m '^user\.' -e hex . 2>/dev/null
    } | awk -F'\t' -v nlink_only="${TREE_MANIFEST_NLINK:-0}" '
      /^--sha256$/ { part = 2; next }
      /^--xattrs$/ { part = 3; next }
      part == 0 {
        path[NR] = $1; type[$1] = $2; mode[$1] = $3; uid[$1] = $4; gid[$1] = $5
        ino[$1] = $6; mtime[$1] = int($7); size[$1] = $8; target[$1] = $9
        if ($2 != "d" && (nlink_only != 1 || $10 > 1)) { linked[$1] = 1; n[$6]++; if (!($6 in first) || $1 < first[$6]) first[$6] = $1 }
        next
      }
      part == 2 { p = substr($0, 67); sum[p] = substr($0, 1, 64); next }
      part == 3 {
        if ($0 ~ /^# file: /) { cur = substr($0, 9); next }
        if ($0 == "") next
        eq = index($0, "=")
        print "xattr\t" cur "\t" substr($0, 1, eq - 1) "\t" substr($0, eq + 1)
        next
      }
      END {
        for (i in path) {
          p = path[i]; line = p "\t" type[p] "\t" mode[p] "\t" uid[p] ":" gid[p]
          if (type[p] == "f") {
            line = line "\tsize=" size[p] "\tmtime=" mtime[p] "\tsha256=" sum[p]
            if (n[ino[p]] > 1 && (p in linked)) line = line "\tlink=" first[ino[p]]
          } else if (type[p] == "l") {
            line = line "\t-> " target[p] "\tmtime=" mtime[p]
          } else if (type[p] != "d" && n[ino[p]] > 1 && (p in linked)) {
            line = line "\tlink=" first[ino[p]]
          }
          print line
        }
      }' | LC_ALL=C sort
  )
}

tree_compare() {
  local name=$1 ref=$2 dir=$3 out=$E2E_WORK/manifests d
  mkdir -p "$out"
  if [[ ! -s $out/reference.txt || $out/reference.src != "$ref" ]]; then
    tree_manifest "$ref" >"$out/reference.txt" || { e2e_fail "$name" "cannot read the reference tree $ref"; return 1; }
    echo "$ref" >"$out/reference.src"
  fi
  tree_manifest "$dir" >"$out/$name.txt" || { e2e_fail "$name" "cannot read $dir"; return 1; }
  if d=$(diff "$out/reference.txt" "$out/$name.txt"); then
    e2e_pass "$name"
    rm -f "$out/$name.txt"
    return 0
  fi
  e2e_fail "$name" "$(grep -c '^[<>]' <<<"$d") lines differ from the reference unpack ($out/$name.txt): $(grep '^[<>]' <<<"$d" | head -n 6 | tr '\t\n' ' |')"
  return 1
}
