# shellcheck shell=bash
# The snaphost DaemonSet's pod, run on this machine exactly as kubelet would run it, through the
# test's private "node" containerd (lib/containerd.sh) with `ctr run`. Everything is read from
# deploy/kubernetes (lib/daemonset-spec.mjs: kustomization, daemonset.yaml, the ConfigMap's
# files), so the test and the YAML cannot drift. Sourced after common.sh, containerd.sh and
# registry.sh.
#
# THE PREFIX RULE. A hostPath is mounted at the same path in the pod (containerd on the node
# mounts what the snapshotters answer, by path), and must stay so. For isolation, the test maps
# every hostPath P to $DS_PREFIX$P on BOTH sides: the host directory $DS_PREFIX$P is bind-mounted
# at $DS_PREFIX$P in the container. The pod's config gets the same prefix on every path that
# starts with a hostPath (socketDir, rootDir, criProxy.listen/upstream, ...). Exceptions:
# device hostPaths (type CharDevice/BlockDevice, /dev/fuse) are the host's own, unprefixed.
# Other test-only edits of the config (lib/daemonset-config.mjs): the metrics endpoint is served
# on 127.0.0.1:$DS_METRICS_PORT (a free port; the pod is on the host's network, so two test runs
# would collide on the manifest's port), and stargz-lazy's fusedOnHost enters the test's mount
# namespace (/proc/$$/ns/mnt: the "node"; /proc/1/ns may not be readable in a CI sandbox) and
# the cgroup $DS_FUSED_CGROUP. The node's / is made shared below $DS_PREFIX (a bind mount of
# itself, rshared), as systemd makes / on a node: Bidirectional needs a shared source.
# $DS_PREFIX/run/containerd is a link to the test containerd's directory (its socket is then
# $DS_PREFIX/run/containerd/containerd.sock, as on a node).
#
# Translation of the pod spec (what kubelet + containerd's CRI would ask runc for):
#   privileged → --privileged; hostPID → --with-ns pid:/proc/$$/ns/pid; hostNetwork → --net-host;
#   volumeMount of a hostPath → --mount type=bind,options=rbind:<propagation>[:ro]
#   (Bidirectional → rshared, HostToContainer → rslave, None → rprivate) and, as CRI does, the
#   rootfs propagation rshared when one mount is Bidirectional (rslave when one is HostToContainer);
#   a ConfigMap volume → a read-only bind of a directory holding its files; env → --env;
#   command + args → the process args; readiness exec → `ctr task exec` until it exits 0;
#   liveness httpGet → GET on the host's loopback (host network).
#
#   ds_setup                  read the manifests, make the node dirs and the pod's config; sets
#                             DS_SPEC (JSON), DS_PREFIX, DS_CONFIG_DIR, DS_METRICS_PORT,
#                             DS_FUSED_CGROUP, DS_SOCKET_DIR, DS_ROOT_DIR (prefixed)
#   ds_containerd_toml MAJOR  the committed drop-in for containerd MAJOR with the prefix applied,
#                             to stdout (for containerd_start)
#   ds_link_containerd        after containerd_start: $DS_PREFIX/run/containerd → its dir
#   ds_pull REF               pull the snaphost image into the node containerd (plain HTTP registry)
#   ds_start REF              run the pod's container (id $DS_ID); sets DS_TASK_PID
#   ds_wait_ready SECONDS     run the readiness probe (`ctr task exec`) until it passes
#   ds_live                   the liveness probe once (0: alive)
#   ds_exec CMD...            `ctr task exec` in the pod's container
#   ds_stop                   SIGKILL of the task (a node crash, `kubectl delete pod --grace-period=0`), then remove it
#   ds_graceful_stop          SIGTERM, wait terminationGracePeriodSeconds, then SIGKILL; sets DS_EXIT
#   ds_replace REF            ds_stop + ds_start REF
#   ds_running                0 while the pod's task runs

DS_DEPLOY=$REPO_ROOT/deploy/kubernetes
DS_SPEC=
DS_PREFIX=
DS_CONFIG_DIR=
DS_METRICS_PORT=
DS_FUSED_CGROUP=
DS_SOCKET_DIR=
DS_ROOT_DIR=
DS_ID=snaphost-pod
DS_TASK_PID=
DS_EXIT=
DS_STARTS=0
DS_LOG=

ds_is_device() { [[ $1 == CharDevice || $1 == BlockDevice ]]; }

ds_setup() {
  DS_SPEC=$(node "$E2E_LIB/daemonset-spec.mjs" "$DS_DEPLOY") || e2e_die "cannot read the DaemonSet: $DS_SPEC"
  DS_PREFIX=$E2E_WORK/node
  DS_FUSED_CGROUP=snaphost-fused-e2e-$$
  mkdir -p "$DS_PREFIX"
  # The node's / is shared (systemd): mounts the pod makes below a Bidirectional path reach it.
  mount --bind "$DS_PREFIX" "$DS_PREFIX" && mount --make-rshared "$DS_PREFIX" || e2e_die "cannot make $DS_PREFIX a shared mount"
  e2e_on_exit ds_teardown_node
  local m host type paths=()
  while IFS=$'\t' read -r host type; do
    ds_is_device "$type" && { [[ -e $host ]] || e2e_die "the node has no $host"; continue; }
    paths+=("$host")
    [[ $host == /run/containerd ]] && continue # a link, made by ds_link_containerd
    mkdir -p "$DS_PREFIX$host"
  done < <(jq -r '.mounts[] | [.hostPath, .type] | @tsv' <<<"$DS_SPEC")
  DS_METRICS_PORT=$(e2e_free_port)
  DS_CONFIG_DIR=$E2E_WORK/pod-config
  mkdir -p "$DS_CONFIG_DIR"
  local name source
  while IFS=$'\t' read -r name source; do
    node "$E2E_LIB/daemonset-config.mjs" "$DS_DEPLOY/$source" "$DS_CONFIG_DIR/$name" "$DS_PREFIX" "$(IFS=,; echo "${paths[*]}")" \
      "127.0.0.1:$DS_METRICS_PORT" "/proc/$$/ns/mnt" "$DS_FUSED_CGROUP" || e2e_die "cannot write the pod's $name"
  done < <(jq -r '.configFiles[] | [.name, .source] | @tsv' <<<"$DS_SPEC")
  # The deploy config's own socketDir/rootDir, prefixed (what the tests look at from the host).
  DS_SOCKET_DIR=$DS_PREFIX$(sed -n "s/^  socketDir: '\(.*\)',$/\1/p" "$DS_DEPLOY/plugins.config.ts")
  DS_ROOT_DIR=$DS_PREFIX$(sed -n "s/^  rootDir: '\(.*\)',$/\1/p" "$DS_DEPLOY/plugins.config.ts")
  [[ $DS_SOCKET_DIR != "$DS_PREFIX" && $DS_ROOT_DIR != "$DS_PREFIX" ]] || e2e_die "no socketDir/rootDir line in $DS_DEPLOY/plugins.config.ts"
  DS_LOG=$E2E_WORK/pod.log
  e2e_add_log pod "$DS_LOG"
  e2e_log "pod spec read from $DS_DEPLOY; host paths below $DS_PREFIX; metrics on 127.0.0.1:$DS_METRICS_PORT"
}

ds_teardown_node() {
  [[ -n $DS_PREFIX ]] || return 0
  e2e_unmount_below "$DS_PREFIX"
  umount "$DS_PREFIX" 2>/dev/null || umount -l "$DS_PREFIX" 2>/dev/null || true
  local c i
  # The FUSE-serving process's cgroup (fusedOnHost), once its last process has exited.
  for c in /sys/fs/cgroup/*/"$DS_FUSED_CGROUP" /sys/fs/cgroup/"$DS_FUSED_CGROUP"; do
    [[ -d $c ]] || continue
    for ((i = 0; i < 50; i++)); do rmdir "$c" 2>/dev/null && break; sleep 0.1; done
    [[ -d $c ]] && e2e_log "could not remove cgroup $c (processes: $(tr '\n' ' ' <"$c/cgroup.procs" 2>/dev/null))"
  done
  return 0
}

ds_containerd_toml() {
  local major=$1 file=$DS_DEPLOY/containerd/snaphost-containerd$1.toml p
  [[ -f $file ]] || e2e_die "no drop-in $file"
  local sedargs=()
  for p in $(jq -r '.mounts[] | select(.type != "CharDevice" and .type != "BlockDevice") | .hostPath' <<<"$DS_SPEC"); do
    sedargs+=(-e "s#\"$p\([/\"]\)#\"$DS_PREFIX$p\1#g")
  done
  sed "${sedargs[@]}" "$file"
}

ds_link_containerd() {
  mkdir -p "$DS_PREFIX/run"
  ln -sfn "$CONTAINERD_DIR" "$DS_PREFIX/run/containerd"
}

ds_pull() {
  local out
  out=$(ctr_ images pull --plain-http "$1" 2>&1) || { echo "$out" | tail -n 3; return 1; }
}

ds_start() {
  local ref=$1 args=() mounts=() prop ro host dst type name file rootprop=
  ds_running && e2e_die "ds_start: the pod's container is already running"
  [[ $(jq -r .privileged <<<"$DS_SPEC") == true ]] && args+=(--privileged)
  [[ $(jq -r .hostNetwork <<<"$DS_SPEC") == true ]] && args+=(--net-host)
  [[ $(jq -r .hostPID <<<"$DS_SPEC") == true ]] && args+=(--with-ns "pid:/proc/$$/ns/pid")
  # Each mount as "DESTINATION<TAB>--mount value"; sorted by depth below, as containerd does.
  while IFS=$'\t' read -r host dst prop ro type; do
    if ! ds_is_device "$type"; then host=$DS_PREFIX$host; dst=$DS_PREFIX$dst; fi
    [[ $prop == rshared ]] && rootprop=rshared
    [[ $prop == rslave && -z $rootprop ]] && rootprop=rslave
    [[ $ro == true ]] && prop+=:ro
    mounts+=("$dst"$'\t'"type=bind,src=$host,dst=$dst,options=rbind:$prop")
  done < <(jq -r '.mounts[] | [.hostPath, .mountPath, .propagation, .readOnly, .type] | @tsv' <<<"$DS_SPEC")
  # A new pod gets new emptyDirs.
  while IFS=$'\t' read -r name dst; do
    host=$E2E_WORK/pod-volumes/$((DS_STARTS + 1))/$name
    mkdir -p "$host"
    mounts+=("$dst"$'\t'"type=bind,src=$host,dst=$dst,options=rbind:rprivate")
  done < <(jq -r '.emptyDirs[] | [.name, .mountPath] | @tsv' <<<"$DS_SPEC")
  # ConfigMap files: the one file (subPath) or the directory of them, read-only.
  while IFS=$'\t' read -r name dst file; do
    if [[ $file == true ]]; then host=$DS_CONFIG_DIR/$name; else host=$DS_CONFIG_DIR; fi
    mounts+=("$dst"$'\t'"type=bind,src=$host,dst=$dst,options=rbind:rprivate:ro")
  done < <(jq -r '[.configFiles[] | [(if .file then .name else "-" end), .mountPath, .file]] | unique | .[] | @tsv' <<<"$DS_SPEC")
  while IFS=$'\t' read -r _ _ spec; do args+=(--mount "$spec"); done < <(
    for m in "${mounts[@]}"; do printf '%s\t%s\n' "$(tr -cd / <<<"${m%%$'\t'*}" | wc -c)" "$m"; done | sort -s -n -k1,1)
  [[ -n $rootprop ]] && args+=(--rootfs-propagation "$rootprop")
  while IFS= read -r env; do args+=(--env "$env"); done < <(jq -r '.env[] | "\(.name)=\(.value)"' <<<"$DS_SPEC")
  local process=()
  mapfile -t process < <(jq -r 'if .command == null then error("the container has no command: the image entrypoint is not read by lib/daemonset.sh") else (.command + (.args // []))[] end' <<<"$DS_SPEC") ||
    e2e_die "cannot translate the container's command"
  DS_STARTS=$((DS_STARTS + 1))
  echo "===== pod start #$DS_STARTS $ref $(date +%T.%N)" >>"$DS_LOG"
  # ctr's own output goes to the log: the container's stdout/stderr (kubelet's container log).
  ctr_ run -d --log-uri "file://$DS_LOG" "${args[@]}" "$ref" "$DS_ID" "${process[@]}" >>"$DS_LOG" 2>&1 || { tail -n 3 "$DS_LOG"; return 1; }
  [[ $DS_STARTS == 1 ]] && e2e_on_exit ds_cleanup
  DS_TASK_PID=$(ctr_ tasks ls 2>/dev/null | awk -v id="$DS_ID" '$1 == id { print $2 }')
  e2e_log "pod started from $ref (task pid ${DS_TASK_PID:-?})"
}

ds_running() { [[ $(ctr_ tasks ls 2>/dev/null | awk -v id="$DS_ID" '$1 == id { print $3 }') == RUNNING ]]; }

DS_EXEC_SEQ=0
ds_exec() {
  DS_EXEC_SEQ=$((DS_EXEC_SEQ + 1))
  ctr_ tasks exec --exec-id "e2e-$$-$DS_EXEC_SEQ" "$DS_ID" "$@"
}

ds_probe_ready() {
  local t cmd=()
  t=$(jq -r .readiness.timeoutSeconds <<<"$DS_SPEC")
  mapfile -t cmd < <(jq -r '.readiness.command[]' <<<"$DS_SPEC")
  timeout "$t" "$CTR" --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" tasks exec --exec-id "ready-$$-$RANDOM" "$DS_ID" "${cmd[@]}"
}

# ds_wait_ready SECONDS: the readiness probe, every second (kubelet: every periodSeconds) until it passes.
ds_wait_ready() {
  local secs=$1 start=$SECONDS
  while ((SECONDS - start < secs)); do
    ds_running || { e2e_log "the pod's container is not running"; return 1; }
    local t0=$SECONDS rc=0
    ds_probe_ready >>"$DS_LOG" 2>&1 || rc=$?
    echo "===== readiness probe: exit $rc after $((SECONDS - t0)) s ($(date +%T.%N))" >>"$DS_LOG"
    [[ $rc == 0 ]] && return 0
    sleep 1
  done
  return 1
}

ds_live() {
  local path t
  path=$(jq -r '.liveness.path // empty' <<<"$DS_SPEC")
  t=$(jq -r .liveness.timeoutSeconds <<<"$DS_SPEC")
  if [[ -n $path ]]; then
    curl -fsS -o /dev/null --max-time "$t" "http://127.0.0.1:$DS_METRICS_PORT$path"
  else
    local cmd=()
    mapfile -t cmd < <(jq -r '.liveness.command[]' <<<"$DS_SPEC")
    timeout "$t" "$CTR" --address "$CONTAINERD_ADDRESS" --namespace "$CTR_NAMESPACE" tasks exec --exec-id "live-$$-$RANDOM" "$DS_ID" "${cmd[@]}"
  fi
}

ds_wait_exit() { # SECONDS: 0 once the task stopped
  local i
  for ((i = 0; i < $1 * 10; i++)); do
    ds_running || return 0
    sleep 0.1
  done
  return 1
}

ds_remove() {
  ctr_ tasks rm -f "$DS_ID" >/dev/null 2>&1
  ctr_ containers rm "$DS_ID" >/dev/null 2>&1
  DS_TASK_PID=
  return 0
}

ds_stop() {
  ctr_ tasks kill -s SIGKILL "$DS_ID" >/dev/null 2>&1
  ds_wait_exit 10 || e2e_log "the pod's task did not exit after SIGKILL"
  ds_remove
}

ds_graceful_stop() {
  local grace
  grace=$(jq -r .terminationGracePeriodSeconds <<<"$DS_SPEC")
  DS_EXIT=
  ctr_ tasks kill -s SIGTERM "$DS_ID" >/dev/null 2>&1
  if ds_wait_exit "$grace"; then
    # `ctr tasks delete` exits with the task's exit status.
    ctr_ tasks delete "$DS_ID" >/dev/null 2>&1
    DS_EXIT=$?
  else
    DS_EXIT=hung
    ctr_ tasks kill -s SIGKILL "$DS_ID" >/dev/null 2>&1
    ds_wait_exit 10
  fi
  ds_remove
}

ds_replace() {
  ds_stop
  ds_start "$1"
}

ds_cleanup() {
  ctr_ tasks ls -q 2>/dev/null | grep -qxF "$DS_ID" && ds_graceful_stop
  ds_remove
}
