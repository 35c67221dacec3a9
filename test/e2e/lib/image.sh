# shellcheck shell=bash
# Builds the tiny test image offline and pushes it to the private registry. Sourced after
# common.sh and registry.sh.
#   image_build_push   sets IMAGE (the pullable ref) and IMAGE_CHAIN_ID (its one layer's chain
#                      id = diff id, which is how containerd names the committed snapshot)
#   image_cached_oci NAME RECIPE LAYOUT_FN
#                      an OCI layout built once per NAME and RECIPE under $E2E_CACHE by
#                      `LAYOUT_FN DIR` (which writes DIR/oci), shared by concurrent runs (flock);
#                      sets IMAGE_CACHED_OCI
# The rootfs is busybox-static plus its applet links and /etc/passwd; every timestamp is fixed,
# so the layer (and so its diff id) is the same on every run. No network but the local registry.

IMAGE=
IMAGE_CHAIN_ID=
IMAGE_CACHED_OCI=

image_cached_oci() {
  local name=$1 recipe=$2 layout=$3
  local cached=$E2E_CACHE/$name-r$recipe
  mkdir -p "$E2E_CACHE" || e2e_die "cannot create $E2E_CACHE"
  (
    flock -w 600 9 || exit 1
    [[ -f $cached/oci/index.json ]] && exit 0
    tmp=$(mktemp -d "$E2E_CACHE/$name-build.XXXXXX") || exit 1
    if "$layout" "$tmp" >"$tmp.log" 2>&1; then
      rm -rf "$cached" && mkdir -p "$cached" && mv "$tmp/oci" "$cached/oci"
      rc=$?
    else
      rc=1
      e2e_log "$name image build failed: $(tail -n 5 "$tmp.log" | tr '\n' ' ')"
    fi
    rm -rf "$tmp" "$tmp.log"
    exit "$rc"
  ) 9>"$E2E_CACHE/.lock-$name" || e2e_die "could not build the $name image"
  IMAGE_CACHED_OCI=$cached/oci
}

# A busybox rootfs in DIR.
image_busybox_rootfs() {
  local d=$1 a
  [[ $(ldd /bin/busybox 2>&1) == *'not a dynamic executable'* ]] ||
    e2e_die "/bin/busybox is not static (install busybox-static)"
  rm -rf "$d"
  mkdir -p "$d"/{bin,sbin,etc,tmp,proc,sys,dev,root,usr/bin,usr/sbin,var}
  chmod 1777 "$d/tmp"
  cp /bin/busybox "$d/bin/busybox"
  for a in $(/bin/busybox --list); do
    [[ $a == busybox ]] || ln -s busybox "$d/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$d/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$d/etc/group"
  echo snaphost-e2e >"$d/etc/hostname"
  find "$d" -exec touch -h -d '2024-01-01 00:00:00Z' {} +
}

image_build_push() {
  local dir=$E2E_WORK/image oci manifest config
  oci=$dir/oci
  mkdir -p "$dir"
  image_busybox_rootfs "$dir/rootfs"
  umoci init --layout "$oci" >/dev/null
  umoci new --image "$oci:tiny" >/dev/null
  umoci insert --image "$oci:tiny" --history.created_by "busybox-static rootfs" "$dir/rootfs" / >/dev/null ||
    e2e_die "umoci insert failed"
  umoci config --image "$oci:tiny" --no-history \
    --config.env 'PATH=/usr/sbin:/usr/bin:/sbin:/bin' --config.workingdir / --config.cmd /bin/sh >/dev/null ||
    e2e_die "umoci config failed"
  manifest=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "tiny") | .digest' "$oci/index.json")
  config=$(jq -r '.config.digest' "$oci/blobs/sha256/${manifest#sha256:}")
  IMAGE_CHAIN_ID=$(jq -r '.rootfs.diff_ids | if length == 1 then .[0] else error("expected one layer") end' "$oci/blobs/sha256/${config#sha256:}") ||
    e2e_die "cannot read the diff id of the built image"
  IMAGE=$REGISTRY/snaphost-e2e/tiny:latest
  skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$oci:tiny" "docker://$IMAGE" >"$dir/push.log" 2>&1 ||
    e2e_die "skopeo copy to $IMAGE failed: $(tail -n 3 "$dir/push.log" | tr '\n' ' ')"
  e2e_log "pushed $IMAGE (layer $IMAGE_CHAIN_ID)"
}
