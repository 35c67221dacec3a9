# shellcheck shell=bash
# eStargz test images for the lazy-pull e2e tests, built offline and cached. Sourced after
# common.sh, registry.sh, containerd.sh, image.sh, debian-base.sh and multilayer-image.sh; needs
# a running containerd for the first conversion only.
#   esgz_push SRC_OCI SRC_TAG NAME [TAG RECORD]
#                                    push the OCI layout SRC_OCI:SRC_TAG to $REGISTRY/NAME:gzip as
#                                    is, and its `ctr-remote image convert --estargz --oci` to
#                                    $REGISTRY/NAME:TAG (default esgz); with RECORD (a
#                                    `ctr-remote optimize` record file: {"path": …} lines) the
#                                    files it names go before each layer's .prefetch.landmark.
#                                    The converted layout is cached next to SRC_OCI, so only the
#                                    first run converts.
#   probe_build                      the small two-layer "lazy probe" image; sets PROBE_OCI
#   probe_victim_bytes               prints /data/victim.bin of the probe image (seeded, 12 MiB)
#   transfer_build                   the two-layer "transfer" image (data below busybox, so no
#                                    layer's chain id is the probe's); sets TRANSFER_OCI
#   transfer_payload_bytes           prints its /transfer/payload.bin (seeded, 16 MiB)
#   esgz_layers REF                  prints "DIGEST SIZE TOC_DIGEST" per layer of the image REF
#                                    in the registry, bottom first (TOC_DIGEST "-" if none)
#   esgz_toc_entry REF LAYER_DIGEST PATH CHUNK_OFFSET
#                                    prints "OFFSET NEXT_OFFSET" of the TOC entry of PATH (whose
#                                    chunk starts at CHUNK_OFFSET of the file) in that layer: the
#                                    compressed byte range holding the chunk
#
# Probe image (every timestamp fixed, data seeded, so its diff ids are the same on every run):
#   1 busybox-static rootfs (image.sh)
#   2 /data/victim.bin (12 MiB of seeded random bytes: three 4 MiB eStargz chunks),
#     /data/warm.bin (2 MiB, seeded, another key), /data/bystander.txt, /data/small/s01..s20.txt

PROBE_RECIPE=2
PROBE_OCI=
PROBE_TAG=probe
PROBE_VICTIM_SIZE=$((12 * 1024 * 1024))
PROBE_BYSTANDER_TEXT='a bystander in the same layer'

probe_victim_bytes() {
  openssl enc -aes-128-ctr -nosalt -K 76696374696d2d6f662d7468652d6532 -iv 0 </dev/zero 2>/dev/null | head -c "$PROBE_VICTIM_SIZE"
}

probe_warm_bytes() {
  openssl enc -aes-128-ctr -nosalt -K 7761726d2d70726566657463682d6532 -iv 0 </dev/zero 2>/dev/null | head -c $((2 * 1024 * 1024))
}

probe_build_layout() {
  local dir=$1 oci=$1/oci i
  image_busybox_rootfs "$dir/rootfs" || return 1
  mkdir -p "$dir/data/small"
  probe_victim_bytes >"$dir/data/victim.bin"
  probe_warm_bytes >"$dir/data/warm.bin"
  echo "$PROBE_BYSTANDER_TEXT" >"$dir/data/bystander.txt"
  for i in $(seq -w 1 20); do echo "small file $i" >"$dir/data/small/s$i.txt"; done
  find "$dir/data" -exec touch -h -d '2024-01-01 00:00:00Z' {} +
  umoci init --layout "$oci" &&
    umoci new --image "$oci:$PROBE_TAG" &&
    umoci insert --image "$oci:$PROBE_TAG" --history.created_by "1 busybox-static rootfs" "$dir/rootfs" / &&
    umoci insert --image "$oci:$PROBE_TAG" --history.created_by "2 data" "$dir/data" /data &&
    umoci config --image "$oci:$PROBE_TAG" --no-history \
      --config.env 'PATH=/usr/sbin:/usr/bin:/sbin:/bin' --config.workingdir / --config.cmd /bin/sh &&
    umoci gc --layout "$oci"
}

probe_build() {
  image_cached_oci probe "$PROBE_RECIPE" probe_build_layout
  PROBE_OCI=$IMAGE_CACHED_OCI
}

TRANSFER_RECIPE=1
TRANSFER_OCI=
TRANSFER_TAG=transfer
TRANSFER_HELLO_TEXT='pulled through the transfer service'

transfer_payload_bytes() {
  openssl enc -aes-128-ctr -nosalt -K 7472616e736665722d7061796c6f6164 -iv 0 </dev/zero 2>/dev/null | head -c $((16 * 1024 * 1024))
}

transfer_build_layout() {
  local dir=$1 oci=$1/oci
  image_busybox_rootfs "$dir/rootfs" || return 1
  mkdir -p "$dir/transfer"
  transfer_payload_bytes >"$dir/transfer/payload.bin"
  echo "$TRANSFER_HELLO_TEXT" >"$dir/transfer/hello.txt"
  find "$dir/transfer" -exec touch -h -d '2024-01-01 00:00:00Z' {} +
  umoci init --layout "$oci" &&
    umoci new --image "$oci:$TRANSFER_TAG" &&
    umoci insert --image "$oci:$TRANSFER_TAG" --history.created_by "1 data" "$dir/transfer" /transfer &&
    umoci insert --image "$oci:$TRANSFER_TAG" --history.created_by "2 busybox-static rootfs" "$dir/rootfs" / &&
    umoci config --image "$oci:$TRANSFER_TAG" --no-history \
      --config.env 'PATH=/usr/sbin:/usr/bin:/sbin:/bin' --config.workingdir / --config.cmd /bin/sh &&
    umoci gc --layout "$oci"
}

transfer_build() {
  image_cached_oci transfer "$TRANSFER_RECIPE" transfer_build_layout
  TRANSFER_OCI=$IMAGE_CACHED_OCI
}

# esgz_convert_into NAME DIR TAG [CONVERT_ARGS...]: convert $REGISTRY/NAME:gzip into
# $REGISTRY/NAME:TAG with ctr-remote in a namespace of its own (removed again), then keep the
# result as the OCI layout DIR/oci:TAG. ESGZ_CONVERT (default --estargz) picks the format, e.g.
# ESGZ_CONVERT=--zstdchunked for zstd:chunked (use a TAG of its own: the cache is per TAG).
esgz_convert_into() {
  local name=$1 dir=$2 dtag=$3 ns=${CTR_NAMESPACE}-convert gz=$REGISTRY/$1:gzip es=$REGISTRY/$1:$3 rc
  shift 3
  local c=(timeout 600 ctr --address "$CONTAINERD_ADDRESS" --namespace "$ns")
  local cr=(timeout 600 ctr-remote --address "$CONTAINERD_ADDRESS" --namespace "$ns")
  e2e_log "converting $gz to eStargz as :$dtag (first run only)"
  "${c[@]}" content fetch --plain-http "$gz" >/dev/null &&
    "${cr[@]}" image convert "${ESGZ_CONVERT:---estargz}" --oci "$@" "$gz" "$es" >/dev/null &&
    "${c[@]}" images push --plain-http "$es" >/dev/null &&
    skopeo --insecure-policy copy --quiet --src-tls-verify=false "docker://$es" "oci:$dir/oci:$dtag" >/dev/null
  rc=$?
  "${c[@]}" images rm --sync "$gz" "$es" >/dev/null 2>&1
  "${c[@]}" namespaces rm "$ns" >/dev/null 2>&1
  return $rc
}

esgz_push() {
  local oci=$1 tag=$2 name=$3 dtag=${4:-esgz} record=${5:-} cached log args=()
  log=$E2E_WORK/push-${name//\//-}-$dtag.log
  cached=$oci-$dtag
  if [[ -n $record ]]; then
    cached+=-$(sha256sum <"$record" | cut -c1-12)
    args=(--estargz-record-in "$record")
  fi
  skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$oci:$tag" "docker://$REGISTRY/$name:gzip" >"$log" 2>&1 ||
    e2e_die "skopeo copy to $REGISTRY/$name:gzip failed: $(tail -n 3 "$log" | tr '\n' ' ')"
  (
    flock -w 600 9 || exit 1
    [[ -f $cached/oci/index.json ]] && exit 0
    rm -rf "$cached.new" && mkdir -p "$cached.new" &&
      esgz_convert_into "$name" "$cached.new" "$dtag" "${args[@]}" >>"$log" 2>&1 &&
      rm -rf "$cached" && mv "$cached.new" "$cached"
  ) 9>"$oci.esgz-lock" || e2e_die "converting $name to eStargz failed: $(tail -n 3 "$log" | tr '\n' ' ')"
  # skopeo keeps the manifest (and so the layers' eStargz annotations) byte for byte.
  skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$cached/oci:$dtag" "docker://$REGISTRY/$name:$dtag" >>"$log" 2>&1 ||
    e2e_die "skopeo copy to $REGISTRY/$name:$dtag failed: $(tail -n 3 "$log" | tr '\n' ' ')"
  e2e_log "pushed $REGISTRY/$name:gzip and :$dtag"
}

esgz_layers() {
  local ref=$1 repo tag
  repo=${ref#*/}
  tag=${repo##*:}
  repo=${repo%:*}
  curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/$repo/manifests/$tag" |
    jq -r '.layers[] | "\(.digest) \(.size) \(.annotations["containerd.io/snapshot/stargz/toc.digest"] // "-")"'
}

esgz_toc_entry() {
  local ref=$1 digest=$2 path=$3 chunk=$4 repo
  repo=${ref#*/}
  repo=${repo%:*}
  # An eStargz blob is a valid tar.gz: the TOC is its stargz.index.json member.
  curl -fsS "http://$REGISTRY/v2/$repo/blobs/$digest" | tar -xzOf - stargz.index.json 2>/dev/null |
    jq -r --arg p "$path" --argjson c "$chunk" '
      .entries as $e
      | [range(0; $e | length) | select(($e[.].name == $p) and (($e[.].chunkOffset // 0) == $c))][0] as $i
      | if $i == null then error("no entry \($p) at chunk offset \($c)") else
          "\($e[$i].offset) \([$e[$i + 1:][] | select(.offset != null and .offset > $e[$i].offset) | .offset][0])"
        end'
}

# esgz_chain_ids REF: the chain ids of the image REF in the registry (how containerd names its
# committed layer snapshots), bottom first.
esgz_chain_ids() {
  local ref=$1 repo tag config prev='' d
  repo=${ref#*/}
  tag=${repo##*:}
  repo=${repo%:*}
  config=$(curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/$repo/manifests/$tag" | jq -r '.config.digest') || return 1
  for d in $(curl -fsS "http://$REGISTRY/v2/$repo/blobs/$config" | jq -r '.rootfs.diff_ids[]'); do
    if [[ -z $prev ]]; then prev=$d; else prev=sha256:$(printf '%s %s' "$prev" "$d" | sha256sum | cut -d' ' -f1); fi
    echo "$prev"
  done
}
