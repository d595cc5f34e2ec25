# SPDX-License-Identifier: MIT
# SIGKILL at random points during an apply, many times: every restart converges to the config,
# the state file is never corrupt, and a VF in use by a VM is never disturbed.
source "$(dirname "$0")/../lib.sh"
need_root
ROUNDS=${MXGPU_SIGKILL_ROUNDS:-50}
# Slow enough that a kill lands inside an apply (the real kernel is slower still).
sim_start s7150x2 "vf_enable=40ms,vf_enable_per_vf=2ms,vf_disable=20ms,bind=8ms,cmd=1ms"

config() { # VFS on 0000:03:00.0; 0000:04:00.0 stays at 2 VFs throughout
  write_config "kill" <<C
[gpu 0000:03:00.0]
vfs = $1
time_slice = 6ms
[vf 0000:03:00.0 1]
time_slice = ${2}ms

[gpu 0000:04:00.0]
vfs = 2
C
}

# Bring 0000:04:00.0 up, then a "VM" opens its VF 1.
config 4 6
mxgpud_once >"$T/first.log" 2>&1 || fail "first apply: $(cat "$T/first.log")"
node=$R$(jqs '.pfs[1].vfs[1].vfio')
exec 3<>"$node" || fail "cannot hold $node"
held_before=$(jqs '.pfs[1] | del(.vfs[].share)')

# The kill window is the time an uninterrupted apply of the same change takes here (4 <-> 6 VFs),
# so the kills land inside applies however fast mxgpud and this machine are.
ms_now() { local t=${EPOCHREALTIME/./}; echo $((10#$t / 1000)); }
window=0
for vfs in 6 4; do
  config $vfs 6
  t0=$(ms_now)
  mxgpud_once >"$T/timed.log" 2>&1 || fail "timed apply to $vfs VFs: $(cat "$T/timed.log")"
  window=$((window + $(ms_now) - t0))
done
window=$((window / 2))
[ "$window" -ge 10 ] || window=10
echo "kill window: 0-$window ms (an uninterrupted 4 <-> 6 VF apply)"

killed=0
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) -eq 0 ]; then vfs=4 slice=6 size=1968; else vfs=6 slice=12 size=1312; fi
  config $vfs $slice
  "$MXGPUD" --root "$R" --config "$CONF" --once >"$T/killed.log" 2>&1 &
  pid=$!
  ms=$((RANDOM % window))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null || true

  if [ -e "$T/state/state.json" ]; then
    jq -e '.version == 1 and (.pfs | type == "array")' "$T/state/state.json" >/dev/null ||
      fail "round $round: state file corrupt: $(head -c 300 "$T/state/state.json")"
  fi
  ls "$T/state" | grep -q corrupt && fail "round $round: a state file was set aside as corrupt"

  mxgpud_once >"$T/converge.log" 2>&1 || fail "round $round: restart did not converge: $(cat "$T/converge.log")"
  s=$(status)
  got=$(jq -r '.pfs[0] | "\(.numvfs) \(.vfs[0].fb.size_mib) \(.vfs[1].time_quantum_ms) \([.vfs[].driver] | unique | join(","))"' <<<"$s")
  assert_eq "$got" "$vfs $size $slice vfio-pci" "round $round: converged state of 0000:03:00.0"
  held=$(jq -c '.pfs[1] | del(.vfs[].share)' <<<"$s")
  [ "$held" = "$(jq -c . <<<"$held_before")" ] || fail "round $round: the PF with a VF in use was disturbed"
  assert_eq "$(jq -r '.pfs[1].vfs[1].vfio_open' <<<"$s")" true "round $round: VM's VF still open"
done
exec 3>&-
[ "$killed" -ge $((ROUNDS / 2)) ] || fail "only $killed of $ROUNDS kills landed before the apply finished"
echo "$ROUNDS rounds, $killed killed mid-apply: always converged, state never corrupt"
