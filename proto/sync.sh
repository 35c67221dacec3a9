#!/usr/bin/env bash
# Re-sync proto/ from the Debian packages and regenerate core/grpc/generated/.
# Idempotent: every file is rebuilt from its source each run.
#   containerd:  golang-github-containerd-containerd-dev (1.6.20) + CommitSnapshotRequest.parent (API v1.8)
#   well-known:  libprotobuf-dev (/usr/include/google/protobuf)
#   google.rpc:  golang-github-gogo-googleapis-dev (google/rpc/status.proto)
# containerd/services/introspection/v1/introspection.proto is a hand-written subset (README.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
src="${CONTAINERD_SRC:-/usr/share/gocode/src/github.com/containerd/containerd}"
wkt="${PROTOBUF_INCLUDE:-/usr/include/google/protobuf}"
rpc="${GOOGLEAPIS_SRC:-/usr/share/gocode/src/github.com/gogo/googleapis}"

for f in "$src/api/services/snapshots/v1/snapshots.proto" "$src/api/types/mount.proto" \
         "$src/api/services/version/v1/version.proto" "$src/api/types/platform.proto" \
         "$wkt/any.proto" "$wkt/empty.proto" "$wkt/field_mask.proto" "$wkt/timestamp.proto" \
         "$rpc/google/rpc/status.proto"; do
  [ -f "$f" ] || { echo "sync.sh: missing $f (apt-get install golang-github-containerd-containerd-dev libprotobuf-dev golang-github-gogo-googleapis-dev)" >&2; exit 1; }
done

# Drop gogoproto: the weak import, `option (gogoproto.*)` lines and `[(gogoproto.*) = ...]` field options.
strip_gogo() {
  sed -e '/^import weak "gogoproto\/gogo.proto";/d' \
      -e '/^[[:space:]]*option (gogoproto\.[^)]*) = .*;[[:space:]]*$/d' \
      -e 's/ \[(gogoproto\.[^]]*\]//' \
      "$1"
}

banner() {
  printf '// Synced by proto/sync.sh from %s (%s). Do not edit; see proto/README.md.\n' "$1" "$2"
}

mkdir -p "$here/containerd/services/snapshots/v1" "$here/containerd/services/version/v1" "$here/containerd/types" \
  "$here/google/protobuf" "$here/google/rpc"

{
  banner "$src/api/types/mount.proto" "golang-github-containerd-containerd-dev"
  strip_gogo "$src/api/types/mount.proto"
} >"$here/containerd/types/mount.proto"

{
  banner "$src/api/services/snapshots/v1/snapshots.proto" "golang-github-containerd-containerd-dev + containerd API v1.8 CommitSnapshotRequest.parent"
  strip_gogo "$src/api/services/snapshots/v1/snapshots.proto" |
    sed -e 's#^import "github.com/containerd/containerd/api/types/mount.proto";#import "containerd/types/mount.proto";#' |
    awk '
      /^message CommitSnapshotRequest[[:space:]]*\{/ { inCommit = 1 }
      inCommit && /parent[[:space:]]*=[[:space:]]*5;/ { hasParent = 1 }
      inCommit && /^\}/ {
        if (!hasParent) {
          print ""
          print "\t// Parent of the committed snapshot (containerd API v1.8 / containerd 2.0, used by"
          print "\t// the \"rebase\" capability). snaphost does not advertise rebase and refuses a"
          print "\t// non-empty parent that differs from the active snapshot'"'"'s own parent."
          print "\tstring parent = 5;"
        }
        inCommit = 0
      }
      { print }
    '
} >"$here/containerd/services/snapshots/v1/snapshots.proto"

{
  banner "$src/api/types/platform.proto" "golang-github-containerd-containerd-dev"
  strip_gogo "$src/api/types/platform.proto"
} >"$here/containerd/types/platform.proto"

{
  banner "$src/api/services/version/v1/version.proto" "golang-github-containerd-containerd-dev"
  strip_gogo "$src/api/services/version/v1/version.proto"
} >"$here/containerd/services/version/v1/version.proto"

{
  banner "$rpc/google/rpc/status.proto" "golang-github-gogo-googleapis-dev"
  cat "$rpc/google/rpc/status.proto"
} >"$here/google/rpc/status.proto"

for f in any empty field_mask timestamp; do
  {
    banner "$wkt/$f.proto" "libprotobuf-dev"
    cat "$wkt/$f.proto"
  } >"$here/google/protobuf/$f.proto"
done

if grep -rq gogoproto "$here"/containerd; then
  echo "sync.sh: gogoproto references left in proto/containerd" >&2
  exit 1
fi
grep -q 'string parent = 5;' "$here/containerd/services/snapshots/v1/snapshots.proto" ||
  { echo "sync.sh: CommitSnapshotRequest.parent missing" >&2; exit 1; }

if [ -d "$repo/node_modules/@grpc/proto-loader" ]; then
  rm -rf "$repo/core/grpc/generated"
  (cd "$repo" && npm run --silent gen:proto-types)
fi
echo "proto/ synced from $src, $wkt and $rpc"
