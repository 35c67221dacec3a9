# shellcheck shell=bash
# The CRI tables of a private containerd (lib/containerd.sh with E2E_CONTAINERD_CRI=1), in the
# format of its major (1.6: io.containerd.grpc.v1.cri; 2.x: cri.v1.images / cri.v1.runtime).
# Sourced after common.sh and containerd.sh.
#   cri_config_toml SNAPSHOTTER CERTS_DIR SANDBOX_IMAGE [default]
#       prints them: CRI's snapshotter SNAPSHOTTER, disable_snapshot_annotations = false (with
#       `default`: left at its default, true), registry hosts from CERTS_DIR (config_path) and
#       nothing else: no credentials (a pull gets them from the CRI request or not at all), no
#       mirrors; host-network pods only (empty CNI dirs under the work dir);
#       restrict_oom_score_adj (this VM refuses the sandbox's negative oom_score_adj).
#       On 2.x the transfer service's unpack_config comes with the proxy plugins
#       (`snaphost containerd-config --containerd 2 --fragment`).
#   cri_plain_http_hosts CERTS_DIR HOST:PORT...
#       a hosts.toml per registry: plain HTTP, pull and resolve

cri_config_toml() {
  local sn=$1 certs=$2 sandbox=$3 annotations='disable_snapshot_annotations = false' cni=$E2E_WORK/cni
  [[ ${4:-} == default ]] && annotations='# disable_snapshot_annotations: the default (true)'
  mkdir -p "$cni/bin" "$cni/conf"
  if [[ $(containerd_major) == 2 ]]; then
    cat <<EOF
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "$sn"
  $annotations
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "$sandbox"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "$certs"

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["$cni/bin"]
    conf_dir = "$cni/conf"

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
EOF
  else
    cat <<EOF
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$sandbox"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$sn"
    $annotations
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$cni/bin"
    conf_dir = "$cni/conf"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$certs"
EOF
  fi
}

cri_plain_http_hosts() {
  local certs=$1 r
  shift
  for r in "$@"; do
    mkdir -p "$certs/$r"
    printf 'server = "http://%s"\n\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "$r" "$r" >"$certs/$r/hosts.toml"
  done
}
