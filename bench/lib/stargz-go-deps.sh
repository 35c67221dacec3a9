# shellcheck shell=bash
# The Debian packages the Go reference needs to build (test/e2e/lib/stargz-ref.sh builds it;
# scripts/install-deps.sh leaves them out because only this benchmark and an optional e2e mode
# need them). Sourced.
#   sbench_go_deps      install the missing ones with apt-get (root), retrying while another
#                       apt/dpkg holds the lock; non-zero with the reason on failure

SBENCH_GO_PACKAGES=(
  golang-go golang-github-containerd-stargz-snapshotter-dev golang-github-containerd-containerd-dev
  golang-github-hanwen-go-fuse-dev golang-github-pelletier-go-toml-dev golang-github-sirupsen-logrus-dev
  golang-google-grpc-dev
)

sbench_go_missing() {
  local p
  for p in "${SBENCH_GO_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}

sbench_go_deps() {
  local missing log i
  mapfile -t missing < <(sbench_go_missing)
  [[ ${#missing[@]} -gt 0 ]] || return 0
  [[ ${BENCH_SKIP_INSTALL:-0} != 1 ]] || { echo "bench: missing Debian packages for the Go reference: ${missing[*]}" >&2; return 1; }
  echo "bench: apt-get install ${missing[*]} (the Go reference)" >&2
  log=$(mktemp)
  for i in 1 2 3 4 5 6; do
    if DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=120 update >"$log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get -qq -y -o DPkg::Lock::Timeout=120 install --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
      rm -f "$log"
      mapfile -t missing < <(sbench_go_missing)
      [[ ${#missing[@]} -eq 0 ]] && return 0
      echo "bench: still missing after apt-get install: ${missing[*]}" >&2
      return 1
    fi
    echo "bench: apt-get failed (attempt $i), retrying in 10 s: $(tail -n 2 "$log" | tr '\n' ' ')" >&2
    sleep 10
  done
  rm -f "$log"
  return 1
}
