#!/usr/bin/env bash
# The e2e environment itself, without snaphost: private registry, the offline tiny image,
# private containerd and runc, through containerd's built-in overlayfs snapshotter. When this
# fails, the other e2e scripts' failures are about the machine, not about snaphost.
#   bash test/e2e/harness.e2e.sh
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$E2E_LIB/registry.sh"
. "$E2E_LIB/image.sh"
. "$E2E_LIB/containerd.sh"

e2e_require_cmds containerd ctr runc docker-registry skopeo umoci jq curl node
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
e2e_finish
