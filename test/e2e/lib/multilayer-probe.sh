# shellcheck shell=bash
# Each layer's effect of the multi-layer image (multilayer-image.sh), seen from inside a
# container. Sourced after common.sh, containerd.sh and multilayer-image.sh.
#   multilayer_probe CHECK_PREFIX SNAPSHOTTER IMAGE CONTAINER REF_ROOTFS EXTRA_SCRIPT EXTRA_EXPECTED
#     runs the probe script in a new container CONTAINER of IMAGE on SNAPSHOTTER; one check
#     CHECK_PREFIX-KEY per expected `KEY=VALUE` line. REF_ROOTFS is the reference rootfs
#     (multilayer_reference); EXTRA_SCRIPT / EXTRA_EXPECTED add one backend's own line (after
#     `fifo`), e.g. the empty directory or stargz's hidden files.

multilayer_probe() {
  local prefix=$1 sn=$2 image=$3 name=$4 ref=$5 extra=$6 extra_expected=$7 script expected out line key want got
  script=$(cat <<'EOS'
echo "top=$(cat /e2e/top.txt)"
echo "replaced=$(cat /e2e/replaced.txt)"
echo "keep=$(cat /e2e/keep.txt)"
if [ -e /e2e/gone-file ]; then echo whiteout-file=present; else echo whiteout-file=absent; fi
if [ -e /e2e/gone-dir ]; then echo whiteout-dir=present; else echo whiteout-dir=absent; fi
if [ -e /usr/share/doc ]; then echo whiteout-base-dir=present; else echo whiteout-base-dir=absent; fi
echo "opaque=$(ls -A /e2e/opaque | tr '\n' ' ')"
echo "setuid=$(stat -c '%a %u %g' /e2e/special/setuid)"
echo "private=$(stat -c '%a' /e2e/special/private)"
echo "sticky=$(stat -c '%a' /e2e/special/sticky)"
echo "hardlinks=$(stat -c %i /e2e/special/a /e2e/special/a-link /e2e/special/d/a-link2 | sort -u | wc -l) $(stat -c %h /e2e/special/a)"
echo "symlinks=$(readlink /e2e/special/sym-relative) $(readlink /e2e/special/sym-absolute) $(cat /e2e/special/sym-dir/file)"
echo "fifo=$(stat -c %F /e2e/special/fifo)"
EOS
)
  script+=$'\n'"$extra"$'\n'
  script+=$(cat <<'EOS'
echo "spaces=$(cat '/e2e/special/name with spaces')"
echo "big=$(stat -c %s /e2e/special/big.bin) $(sha256sum </e2e/special/big.bin | cut -d' ' -f1)"
echo "debian=$(cat /etc/debian_version)"
echo "writable=$(echo ok >/root/written && cat /root/written)"
EOS
)
  expected=$(cat <<EXPECTED
top=$ML_TOP_TEXT
replaced=v2
keep=kept from layer 2
whiteout-file=absent
whiteout-dir=absent
whiteout-base-dir=absent
opaque=new-1 new-sub 
setuid=4755 1234 1234
private=600
sticky=1777
hardlinks=1 3
symlinks=a /etc/debian_version in dir
fifo=fifo
$extra_expected
spaces=spaces
big=$ML_BIG_SIZE $(sha256sum <"$ref/e2e/special/big.bin" | cut -d' ' -f1)
debian=$(cat "$ref/etc/debian_version")
writable=ok
EXPECTED
)
  out=$(ctr_ run --rm --snapshotter "$sn" "$image" "$name" /bin/sh -c "$script" 2>&1)
  while IFS= read -r line; do
    key=${line%%=*}
    want=${line#*=}
    got=$(grep -m1 "^$key=" <<<"$out")
    got=${got#*=}
    if [[ $got == "$want" ]]; then e2e_pass "$prefix-$key"; else e2e_fail "$prefix-$key" "expected '$want', got '$got' (output: $(head -c 300 <<<"$out" | tr '\n' '|'))"; fi
  done <<<"$expected"
}
