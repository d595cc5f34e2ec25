# SPDX-License-Identifier: MIT
# Sourced by tests/contract/*.sh: start and stop simulators in throwaway folders, with cleanup on every exit.
BUILD=${BUILD:-build}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
SIM=$here/$BUILD/mxgpu-sim
CONTRACT=$here/$BUILD/tests/contract
[ -x "$SIM" ] || { echo "missing $SIM: run make"; exit 1; }
[ -e /dev/fuse ] || { echo "skip: no /dev/fuse"; exit 77; }

# make check-valgrind: the simulator and the contract binary under memcheck (tests/valgrind.sh).
source "$here/tests/valgrind.sh"
VG_DIR=
if [ "$VALGRIND" ]; then
  VG_DIR=$(mktemp -d /tmp/mxgpu-vg.XXXXXX)
  SIM=$(vg_wrap "$VG_DIR" "$SIM") CONTRACT=$(vg_wrap "$VG_DIR" "$CONTRACT")
fi

SIM_DIRS=()
sim_cleanup() {
  local d rc=$?
  for d in "${SIM_DIRS[@]}"; do
    "$SIM" stop --root "$d" >/dev/null 2>&1 || true
    # Under SANITIZE=1 the simulator's own reports land in its log: they fail the test too.
    if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$d/mxgpu-sim.log" 2>/dev/null; then
      echo "FAIL: sanitizer report from mxgpu-sim:"; grep -A20 -E "ERROR:|runtime error:" "$d/mxgpu-sim.log" | head -40
      [ $rc -eq 0 ] && rc=1
    fi
    # a simulator that died leaves its mounts: detach them before removing the folder
    is_mounted "$d/sys" && umount -l "$d/sys" 2>/dev/null
    is_mounted "$d/dev" && umount -l "$d/dev" 2>/dev/null
    rm -rf --one-file-system "$d"
  done
  if [ "$VG_DIR" ]; then
    vg_report "$VG_DIR" || { [ $rc -eq 0 ] && rc=1; }
    rm -rf "$VG_DIR"
  fi
  exit $rc
}
trap sim_cleanup EXIT

# sim_start HOST [extra args]: starts a simulator with --latency zero, sets $ROOT
sim_start() {
  ROOT=$(mktemp -d /tmp/mxgpu-sim-test.XXXXXX)
  chmod 755 "$ROOT"
  SIM_DIRS+=("$ROOT")
  "$SIM" start --host "$1" --root "$ROOT" --latency zero "${@:2}"
}

sim_stop() { "$SIM" stop --root "$ROOT"; }

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_write_error VALUE FILE MESSAGE: the shell's echo must fail with MESSAGE (strerror text)
expect_write_error() {
  local out
  if out=$( (echo "$1" > "$2") 2>&1 ); then fail "echo $1 > $2 succeeded, expected '$3'"; fi
  [[ $out == *"$3"* ]] || fail "echo $1 > $2: got '$out', expected '$3'"
}

# the PFs of the running simulator (functions with sriov_totalvfs)
sim_pfs() {
  local d
  for d in "$ROOT"/sys/bus/pci/devices/*; do
    [ -e "$d/sriov_totalvfs" ] && basename "$d"
  done
  return 0
}

# true while PATH is a mount point, even a dead FUSE mount whose stat fails
is_mounted() { awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo; }
