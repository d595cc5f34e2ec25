# SPDX-License-Identifier: MIT
# Shared helpers for integration tests: a simulated host per test, the daemon against it, JSON checks.
set -euo pipefail
SRC=${MXGPU_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
B=${BUILD:-build}
[[ $B == /* ]] || B=$SRC/$B
SIM=$B/mxgpu-sim MXGPUD=$B/mxgpud MXGPUCTL=$B/mxgpuctl
T=$(mktemp -d /tmp/mxgpu-it.XXXXXX)
ROOTS=() PIDS=()

# make check-valgrind: mxgpud and mxgpuctl, the programs these tests are about, under memcheck. The
# simulator is the fixture here and runs as it is (under valgrind every FUSE request of the daemon
# would cost ~20x); the contract tests run it under memcheck.
source "$SRC/tests/valgrind.sh"
if [ "$VALGRIND" ]; then
  MXGPUD=$(vg_wrap "$T/vg" "$MXGPUD") MXGPUCTL=$(vg_wrap "$T/vg" "$MXGPUCTL")
fi
# proc_is PID PROG: process PID runs $B/PROG (under valgrind its executable is valgrind's tool, and the
# program is named on its command line).
proc_is() {
  if [ "$VALGRIND" ]; then
    tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF "$(readlink -f "$B/$2")"
  else
    [ "$(readlink "/proc/$1/exe")" = "$(readlink -f "$B/$2")" ]
  fi
}

cleanup() {
  local rc=$?
  if [ "$VALGRIND" ]; then
    for p in "${PIDS[@]}"; do vg_stop "$p"; done
    vg_report "$T/vg" || { [ $rc -eq 0 ] && rc=1; }
  fi
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for r in "${ROOTS[@]}"; do
    "$SIM" stop --root "$r" >/dev/null 2>&1 || true
    # Under SANITIZE=1 the simulator's own reports land in its log: they fail the test too.
    if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$r/mxgpu-sim.log" 2>/dev/null; then
      echo "FAIL: sanitizer report from mxgpu-sim:"; grep -A20 -E "ERROR:|runtime error:" "$r/mxgpu-sim.log" | head -40
      [ $rc -eq 0 ] && rc=1
    fi
  done
  if [ $rc -ne 0 ] && [ -d "$T" ]; then
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
  fi
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }
need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root (FUSE mounts under /tmp and namespaces)"; }

# sim_start SPEC [LATENCY] -> sets R (the simulated root)
sim_start() {
  R=$T/host${#ROOTS[@]}
  mkdir -p "$R"
  "$SIM" start --host "$1" --root "$R" --latency "${2:-zero}" || fail "mxgpu-sim start --host $1"
  ROOTS+=("$R")
}
status() { "$SIM" status --root "$R" --json; }
# jqs FILTER: run a jq filter over the simulator's status
jqs() { status | jq -r "$@"; }

# write_config NAME <<EOF ... : a config file in $T with state_dir set
write_config() {
  CONF=$T/$1.conf
  { printf '[daemon]\nstate_dir = %s/state\n\n' "$T"; cat; } > "$CONF"
}

mxgpud_once() { "$MXGPUD" --root "$R" --config "$CONF" --once "$@"; }

# daemon_start: mxgpud in the background with a control socket; waits until it answers.
daemon_start() {
  SOCK=$T/mxgpud.sock
  "$MXGPUD" --root "$R" --config "$CONF" --socket "$SOCK" "$@" >>"$T/mxgpud.log" 2>&1 &
  DPID=$!
  PIDS+=("$DPID")
  for _ in $(seq 200); do
    "$MXGPUCTL" --socket "$SOCK" ping >/dev/null 2>&1 && return 0
    kill -0 "$DPID" 2>/dev/null || fail "mxgpud exited early: $(tail -n 5 "$T/mxgpud.log")"
    sleep 0.05
  done
  fail "mxgpud did not answer on $SOCK"
}
ctl() { "$MXGPUCTL" --socket "$SOCK" "$@"; }
cycles() { ctl list --json | jq -r .cycles; }

assert_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
# assert_near ACTUAL EXPECTED TOLERANCE MSG (absolute)
assert_near() {
  awk -v a="$1" -v e="$2" -v t="$3" 'BEGIN { d = a - e; if (d < 0) d = -d; exit !(d <= t) }' ||
    fail "$4: expected $2 +- $3, got $1"
}
