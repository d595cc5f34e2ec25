#!/bin/bash
# SPDX-License-Identifier: MIT
# The hardware layer (discovery, SR-IOV, vfio binding, GPU-IOV registers) against mxgpu-sim's s7150x2 host.
set -euo pipefail
BUILD=${BUILD:-build}
src=${MXGPU_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$src"
sim=$BUILD/mxgpu-sim
[ -x "$sim" ] || { echo "skip: $sim is not built (the simulator is not merged yet)"; exit 77; }
[ -e /dev/fuse ] || { echo "skip: no /dev/fuse"; exit 77; }

# The driver program links the library of this build (ASan flags for build/asan).
prog=$BUILD/tests/hw-sim
flags=()
[[ $BUILD == *asan* ]] && flags=(-fsanitize=address,undefined -fno-omit-frame-pointer)
mkdir -p "$BUILD/tests"
cc -std=gnu11 -g -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -Iinclude "${flags[@]}" \
   $(pkg-config --cflags libpci json-c) -o "$prog" tests/integration/hw-sim.c \
   "$BUILD/libmxgpu.a" $(pkg-config --libs libpci json-c)

# make check-valgrind: the driver program (the hardware layer) and the simulator under memcheck.
source tests/valgrind.sh
vg_dir=
if [ "$VALGRIND" ]; then
  vg_dir=$(mktemp -d /tmp/mxgpu-vg.XXXXXX)
  prog=$(vg_wrap "$vg_dir" "$(readlink -f "$prog")") sim=$(vg_wrap "$vg_dir" "$(readlink -f "$sim")")
fi

root=$(mktemp -d /tmp/mxgpu-hw-XXXXXX)
cleanup() {
  local rc=$?
  "$sim" stop --root "$root" >/dev/null 2>&1 || true
  rm -rf "$root" 2>/dev/null || true
  if [ "$vg_dir" ]; then
    vg_report "$vg_dir" || { [ $rc -eq 0 ] && rc=1; }
    rm -rf "$vg_dir"
  fi
  exit $rc
}
trap cleanup EXIT
"$sim" start --host s7150x2 --root "$root" --latency zero

status() { "$sim" status --root "$root" --json; }
# The object with "address" == $1 anywhere in the status JSON, field $2.
field() {
  status | jq -r --arg a "$1" --arg k "$2" 'first(.. | objects | select(.address? == $a)) | .[$k]'
}

echo "== discovery"
mapfile -t pfs < <("$prog" "$root" discover 2)
[ ${#pfs[@]} -eq 2 ] || { echo "FAIL: want 2 PFs, got ${#pfs[@]}"; exit 1; }
pf=${pfs[0]}

echo "== SR-IOV on $pf"
mapfile -t vfs < <("$prog" "$root" sriov "$pf")
[ ${#vfs[@]} -eq 2 ] || { echo "FAIL: want 2 VFs, got ${#vfs[@]}"; exit 1; }
[ "$(field "$pf" numvfs)" = 2 ] || { echo "FAIL: simulator says numvfs $(field "$pf" numvfs)"; exit 1; }

echo "== vfio bind ${vfs[0]}"
group=$("$prog" "$root" bind "${vfs[0]}")
d=$(field "${vfs[0]}" driver)
[ "$d" = vfio-pci ] || { echo "FAIL: simulator says driver $d"; exit 1; }
v=$(field "${vfs[0]}" vfio)
[ "$v" = "/dev/vfio/$group" ] || [ "$v" = "$root/dev/vfio/$group" ] || { echo "FAIL: simulator says vfio node $v, want group $group"; exit 1; }

echo "== GPU-IOV registers of $pf"
"$prog" "$root" gpuiov "$pf"
reserve=$(status | jq -r --arg a "$pf" 'first(.. | objects | select(.address? == $a)) | .gpuiov.pf_reserve_mib')
[ "$reserve" = 256 ] || { echo "FAIL: the card says PF reserve $reserve"; exit 1; }

echo "== the kernel's and the card's errors, unchanged"
"$sim" fault --root "$root" write "${vfs[1]}" driver_override EACCES
"$prog" "$root" bind-errno "${vfs[1]}" 13
"$sim" fault --root "$root" cmd-hang "$pf"
"$prog" "$root" hang "$pf"
"$sim" fault --root "$root" write "$pf" sriov_numvfs ENOMEM
"$prog" "$root" numvfs-errno "$pf" 4 12
"$sim" fault --root "$root" clear

echo "== vfio unbind, disable"
"$prog" "$root" unbind "${vfs[0]}"
[ "$(field "${vfs[0]}" driver)" = null ] || { echo "FAIL: still bound after unbind"; exit 1; }
"$prog" "$root" disable "$pf"
[ "$(field "$pf" numvfs)" = 0 ] || { echo "FAIL: VFs still enabled"; exit 1; }

echo "== a PF removed while scanning"
"$prog" "$root" scan-loop 200 >"$root.scan" &
scan=$!
sleep 0.05
"$sim" fault --root "$root" remove "${pfs[1]}"
wait $scan
lo=$(cat "$root.scan"); rm -f "$root.scan"
[ "$lo" = 1 ] || echo "note: the removal landed after the last scan ($lo PFs in every round)"
mapfile -t left < <("$prog" "$root" discover 1)
[ "${left[0]}" = "$pf" ] || { echo "FAIL: after removal want $pf, got ${left[*]}"; exit 1; }
echo "hw-sim: all checks passed"
