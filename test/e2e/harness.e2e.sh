#!/usr/bin/env bash
# The e2e environment itself, without snaphost: private registry, the offline tiny image,
# private containerd and runc, through containerd's built-in overlayfs snapshotter. Also the
# yardstick of the overlayfs-native tests: the multi-layer Debian image unpacked by built-in
# overlayfs must be identical to `umoci unpack` of it (lib/tree-manifest.sh), so a difference
# found through snaphost is snaphost's. When this fails, the other e2e scripts' failures are
# about the machine, not about snaphost.
#   bash test/e2e/harness.e2e.sh
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/containerd.sh"
. "$E2E_LIB/debian-base.sh"
. "$E2E_LIB/multilayer-image.sh"
. "$E2E_LIB/tree-manifest.sh"

e2e_require_cmds containerd ctr runc docker-registry skopeo umoci debootstrap jq curl node getfattr setfattr openssl flock
CTR_NAMESPACE=snaphost-e2e-harness
e2e_init harness
registry_start
image_build_push
: >"$E2E_WORK/no-proxies.toml"
containerd_start "$E2E_WORK/no-proxies.toml"

e2e_check harness-pull ctr_ images pull --plain-http --snapshotter overlayfs "$IMAGE"
out=$(ctr_ run --rm --snapshotter overlayfs "$IMAGE" "harness-$$" /bin/sh -c 'echo hello-overlayfs' 2>&1)
if [[ $out == hello-overlayfs ]]; then e2e_pass harness-run; else e2e_fail harness-run "output was: $out"; fi
if ctr_ snapshots --snapshotter overlayfs ls | awk -v k="$IMAGE_CHAIN_ID" '$1 == k && $NF == "Committed" { f = 1 } END { exit !f }'; then
  e2e_pass harness-committed-layer
else
  e2e_fail harness-committed-layer "no committed snapshot $IMAGE_CHAIN_ID"
fi
e2e_check harness-image-rm ctr_ images rm --sync "$IMAGE"
left=$(ctr_ snapshots --snapshotter overlayfs ls | tail -n +2)
if [[ -z $left ]]; then e2e_pass harness-gc; else e2e_fail harness-gc "snapshots left after GC: $left"; fi

# The multi-layer image through built-in overlayfs: identical to the reference unpack.
E2E_CURRENT=multilayer
multilayer_push
multilayer_reference "$E2E_WORK/reference"
e2e_check harness-multilayer-pull ctr_ images pull --plain-http --snapshotter overlayfs "$ML_IMAGE"
if out=$(ctr_view_mount overlayfs harness-view "$ML_TOP_CHAIN_ID" "$E2E_WORK/view"); then
  tree_compare harness-multilayer-tree-identical "$E2E_WORK/reference/rootfs" "$E2E_WORK/view"
  ctr_view_unmount overlayfs harness-view "$E2E_WORK/view" || e2e_fail harness-multilayer-unmount "could not unmount or remove the view"
else
  e2e_fail harness-multilayer-tree-identical "$out"
fi
e2e_check harness-multilayer-image-rm ctr_ images rm --sync "$ML_IMAGE"
e2e_finish
