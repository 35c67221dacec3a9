# shellcheck shell=bash
# The time-to-ready benchmark runs both lazy snapshotters with their DEFAULTS (prefetch on,
# background fetch on), where bench/lib/stargz-contenders.sh runs them purely on demand. Sourced
# after bench/lib/stargz-contenders.sh, whose sbench_go_start it replaces:
#   ttr_contenders_init     stargz-lazy's backend options {} (every default) + sbench_contenders_init
#   sbench_go_start         the Go reference with a config that only names the registry (its
#                           defaults: prefetch on, a layer's mount waits for its prefetch in
#                           Check, background fetch of whole layers from the mount on)

ttr_contenders_init() {
  SBENCH_LAZY_OPTIONS=${SBENCH_LAZY_OPTIONS:-'{}'} sbench_contenders_init
}

sbench_go_start() {
  local root config
  root=$(sbench_root stargz-go)
  config=$E2E_WORK/stargz-go.toml
  [[ -n $STARGZ_REF_BIN ]] || stargz_ref_build
  mkdir -p "$root"
  cat >"$config" <<TOML
# the Go reference's defaults (prefetch, background fetch); only the local registry is named
[[resolver.host."$REGISTRY".mirrors]]
host = "$REGISTRY"
insecure = true
TOML
  echo "===== start $(date +%T.%N)" >>"$E2E_WORK/stargz-go.log"
  "$STARGZ_REF_BIN" --address "$(sbench_socket stargz-go)" --root "$root" --config "$config" --log-level info \
    >>"$E2E_WORK/stargz-go.log" 2>&1 </dev/null &
  SBENCH_GO_PID=$!
  bench_wait_socket "$(sbench_socket stargz-go)" "$SBENCH_GO_PID"
}
