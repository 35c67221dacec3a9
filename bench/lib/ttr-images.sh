# shellcheck shell=bash
# The time-to-ready benchmark's application images, built offline and cached. Sourced after
# test/e2e/lib/{common,containerd,image,debian-base,estargz-images}.sh and
# bench/lib/stargz-registry.sh; needs a running containerd for the first conversion only.
#   ttr_images_push     build (first run only), convert and push to $REGISTRY:
#                         snaphost-bench/ttr-python:esgz   (a) `ctr-remote image convert --estargz --oci`
#                         snaphost-bench/ttr-node:esgz     (b) the same
#                         snaphost-bench/ttr-python:opt    (c) `ctr-remote image optimize --oci` of (a)'s
#                         snaphost-bench/ttr-node:opt          source: the files the entrypoint read
#                                                          before .prefetch.landmark (prefetched)
#                       writes one "image: …" line per image (files, bytes, layers) to stdout
# Images (layer 1 = the Debian 12 minbase root of test/e2e/lib/debian-base.sh in both):
#   python  2 python3 (3.11) and the libraries it needs, unpacked from Debian's .debs (the
#             machine's apt mirror; `apt-get download`, no maintainer script), the standard
#             library byte-compiled (what python3's postinst does)
#           3 /app/main.py: imports the standard-library modules of bench/lib/ttr-python-modules.txt
#             (every one checked at build time), prints `ready N`
#   node    2 the Node.js runtime snaphost itself runs on (scripts/lib/node-runtime.sh: bin/node)
#           3 /app: a copy of this repository's node_modules (hundreds of real packages) and
#             main.js, which requires every package of the copy that loads in plain Node (found
#             at build time, bench/lib/ttr-node-probe.mjs) and prints `ready N`

TTR_RECIPE=1
TTR_PY_DEBS="libexpat1 libncursesw6 libnsl2 libtirpc3 libtirpc-common libgssapi-krb5-2 libk5crypto3
  libkeyutils1 libkrb5-3 libkrb5support0 libpython3-stdlib libpython3.11-minimal libpython3.11-stdlib
  libreadline8 libsqlite3-0 libssl3 libffi8 libdb5.3 libcrypt1 libuuid1 libbz2-1.0 liblzma5 zlib1g media-types
  readline-common python3 python3-minimal python3.11 python3.11-minimal"

_ttr_finish_layout() { # DIR TAG LAYER2_DIR LAYER2_NAME APP_DIR ENTRY...
  local dir=$1 tag=$2 l2=$3 l2name=$4 app=$5 oci=$1/oci base
  shift 5
  base=$(debian_base_tarball) || return 1
  mkdir -p "$dir/base" && tar --numeric-owner -xf "$base" -C "$dir/base" || return 1
  find "$l2" "$app" -exec touch -h -d '2024-01-01 00:00:00Z' {} + || return 1
  umoci init --layout "$oci" &&
    umoci new --image "$oci:$tag" &&
    umoci insert --image "$oci:$tag" --history.created_by "1 debian 12 minbase" "$dir/base" / &&
    umoci insert --image "$oci:$tag" --history.created_by "2 $l2name" "$l2" / &&
    umoci insert --image "$oci:$tag" --history.created_by "3 the application" "$app" /app &&
    umoci config --image "$oci:$tag" --no-history --config.env 'PATH=/usr/local/bin:/usr/bin:/bin' \
      --config.workingdir /app "${@/#/--config.entrypoint=}" &&
    umoci gc --layout "$oci" || return 1
  echo "$(find "$app" -type f | wc -l) files, $(du -sb "$app" | cut -f1) bytes" >"$oci/app-files.txt"
}

_ttr_chroot_run() { # ROOT CMD...: CMD inside ROOT with /proc and /dev bound (unmounted after)
  local root=$1 rc
  shift
  mkdir -p "$root/proc" "$root/dev"
  mount -t proc proc "$root/proc" && mount --bind /dev "$root/dev" || return 1
  chroot "$root" "$@"
  rc=$?
  umount "$root/dev" "$root/proc" || umount -l "$root/dev" "$root/proc"
  return $rc
}

# _ttr_rm_root ROOT: remove a chroot's tree, never while anything is mounted below it (its /dev is
# the host's /dev while bound).
_ttr_rm_root() {
  if awk -v r="$(realpath "$1")/" 'index($2 "/", r) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
    echo "$1: still has mounts below it; left in place" >&2
    return 1
  fi
  rm -rf "$1"
}

ttr_python_layout() {
  local dir=$1 debs=$1/debs l2=$1/python app=$1/app merged=$1/merged d
  mkdir -p "$debs" "$l2" "$app" "$merged"
  # shellcheck disable=SC2086 # a word list on purpose
  (cd "$debs" && chown _apt "$debs" 2>/dev/null; apt-get download $TTR_PY_DEBS) || return 1
  # Debian 12 is usr-merged: /bin, /sbin, /lib, /lib64 are symlinks into /usr (as in layer 1)
  mkdir -p "$l2/usr/bin" "$l2/usr/sbin" "$l2/usr/lib" "$l2/usr/lib64" &&
    ln -s usr/bin "$l2/bin" && ln -s usr/sbin "$l2/sbin" && ln -s usr/lib "$l2/lib" && ln -s usr/lib64 "$l2/lib64" || return 1
  for d in "$debs"/*.deb; do dpkg-deb --fsys-tarfile "$d" | tar -x --keep-directory-symlink -C "$l2" || return 1; done
  rm -rf "$l2/usr/share/doc" "$l2/usr/share/man" "$l2/usr/share/lintian"
  # Byte-compile the standard library inside the image's own root (as python3's postinst does).
  tar --numeric-owner -xf "$(debian_base_tarball)" -C "$merged" && cp -a "$l2/." "$merged/" || return 1
  _ttr_chroot_run "$merged" python3.11 -m compileall -q -j 0 /usr/lib/python3.11 >/dev/null || true
  (cd "$merged" && find usr/lib/python3.11 -name '*.pyc' -print0 | tar --null -T - -cf -) | tar -xf - -C "$l2" || return 1
  {
    echo '# Imports a wide set of the standard library, then says it is ready (snaphost bench).'
    echo 'import importlib, sys'
    echo 'MODULES = """'
    grep -v '^#' "$BENCH_LIB/ttr-python-modules.txt"
    echo '""".split()'
    echo 'for m in MODULES:'
    echo '    importlib.import_module(m)'
    echo 'print("ready", len(MODULES), flush=True)'
  } >"$app/main.py"
  cp "$app/main.py" "$merged/main.py"
  _ttr_chroot_run "$merged" python3 /main.py | grep -q '^ready' || { echo "main.py does not print ready in the image's root" >&2; return 1; }
  _ttr_rm_root "$merged" || return 1
  _ttr_finish_layout "$dir" ttr-python "$l2" "python3 3.11 (Debian 12 .debs)" "$app" python3 /app/main.py
}

ttr_node_layout() {
  local dir=$1 l2=$1/runtime app=$1/app merged=$1/merged
  mkdir -p "$l2/usr/local/bin" "$app" "$merged"
  cp "$SNAPHOST_NODE_HOME/bin/node" "$l2/usr/local/bin/node" || return 1
  cp -a "$REPO_ROOT/node_modules/." "$app/node_modules/" || return 1
  rm -rf "$app/node_modules/.cache"
  cat >"$app/main.js" <<'EOF'
// Requires every package of node_modules that loads in plain Node, then says it is ready (snaphost bench).
'use strict';
const packages = require('./packages.json');
for (const p of packages) require(p);
process.stdout.write(`ready ${packages.length}\n`, () => process.exit(0));
EOF
  # Which packages load is found inside the image's own root (its libraries, not this machine's).
  tar --numeric-owner -xf "$(debian_base_tarball)" -C "$merged" && cp -a "$l2/." "$merged/" &&
    mkdir -p "$merged/app" && cp -a "$app/." "$merged/app/" && cp "$BENCH_LIB/ttr-node-probe.mjs" "$merged/probe.mjs" || return 1
  _ttr_chroot_run "$merged" /usr/local/bin/node /probe.mjs /app >"$app/packages.json" || return 1
  cp "$app/packages.json" "$merged/app/packages.json"
  _ttr_chroot_run "$merged" sh -c 'cd /app && timeout 120 /usr/local/bin/node main.js' | grep -q '^ready' ||
    { echo "main.js does not print ready in the image's root" >&2; return 1; }
  _ttr_rm_root "$merged" || return 1
  _ttr_finish_layout "$dir" ttr-node "$l2" "node $(node -v) (snaphost's runtime)" "$app" /usr/local/bin/node /app/main.js
}

# _ttr_optimize NAME SRC_OCI: `ctr-remote image optimize --oci` of SRC_OCI:NAME (run once, its
# default entrypoint recorded for 10 s), cached as SRC_OCI-opt, pushed as $REGISTRY/…/NAME:opt.
_ttr_optimize() {
  local name=$1 oci=$2 cached=$2-opt repo=snaphost-bench/$1 ns=${CTR_NAMESPACE}-optimize log
  log=$E2E_WORK/optimize-$name.log
  (
    flock -w 900 9 || exit 1
    [[ -f $cached/oci/index.json ]] && exit 0
    local c=(timeout 600 ctr --address "$CONTAINERD_ADDRESS" --namespace "$ns")
    rm -rf "$cached.new" && mkdir -p "$cached.new" || exit 1
    e2e_log "ctr-remote image optimize --oci $repo (first run only)"
    "${c[@]}" content fetch --plain-http "$REGISTRY/$repo:gzip" >/dev/null &&
      timeout 600 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$ns" image optimize --oci \
        --record-out "$cached.new/record.json" "$REGISTRY/$repo:gzip" "$REGISTRY/$repo:opt" &&
      "${c[@]}" images push --plain-http "$REGISTRY/$repo:opt" >/dev/null &&
      skopeo --insecure-policy copy --quiet --src-tls-verify=false "docker://$REGISTRY/$repo:opt" "oci:$cached.new/oci:opt" >/dev/null
    rc=$?
    "${c[@]}" images rm --sync "$REGISTRY/$repo:gzip" "$REGISTRY/$repo:opt" >/dev/null 2>&1
    "${c[@]}" namespaces rm "$ns" >/dev/null 2>&1
    [[ $rc == 0 ]] && rm -rf "$cached" && mv "$cached.new" "$cached"
  ) 9>"$oci.opt-lock" >"$log" 2>&1 || e2e_die "optimizing $repo failed: $(tail -n 3 "$log" | tr '\n' ' ')"
  skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$cached/oci:opt" "docker://$REGISTRY/$repo:opt" >>"$log" 2>&1 ||
    e2e_die "skopeo copy to $REGISTRY/$repo:opt failed: $(tail -n 3 "$log" | tr '\n' ' ')"
}

_ttr_describe() { # NAME TAG OCI: "image: …" line
  local ref=$REGISTRY/snaphost-bench/$1:$2 n=0 bytes=0 l size files
  while read -r _ size _; do n=$((n + 1)); bytes=$((bytes + size)); done < <(esgz_layers "$ref")
  files=$(cat "$3/app-files.txt" 2>/dev/null)
  echo "image: $ref, $n layers, $bytes compressed bytes${files:+, /app: $files}"
}

ttr_images_push() {
  local name fn oci
  for name in ttr-python ttr-node; do
    fn=ttr_python_layout
    [[ $name == ttr-node ]] && fn=ttr_node_layout
    e2e_log "$name image (built on the first run only)"
    image_cached_oci "$name" "$TTR_RECIPE" "$fn"
    oci=$IMAGE_CACHED_OCI
    esgz_push "$oci" "$name" "snaphost-bench/$name"
    _ttr_optimize "$name" "$oci"
    _ttr_describe "$name" esgz "$oci"
    _ttr_describe "$name" opt "$oci"
  done
}
