# SPDX-License-Identifier: MIT
# mxgpuctl resize and set-vfs against the simulator: in place, with the fewest moves of idle VFs, no
# space (nothing changed), VF in use (nothing changed), dry run, overrides kept by apply and a
# restart and dropped by reload, --persist, the vf-resized event, and both output forms.
source "$(dirname "$0")/../lib.sh"
need_root
sim_start s7150
# VF area of an S7150: 272..8192 MiB. VF0 1G@272, VF1 512M@1296, VF2 2G@1808, VF3 3G@3856; 1264 MiB free at the end.
write_config rz <<'C'
[gpu *]
vfs = 4
[vf 0000:03:00.0 0]
vf_memory = 1G
[vf 0000:03:00.0 1]
vf_memory = 512M
[vf 0000:03:00.0 2]
vf_memory = 2G
[vf 0000:03:00.0 3]
vf_memory = 3G
C
daemon_start
layout() { jqs -c '[.pfs[0].vfs[] | select(.fb.size_mib > 0) | [.index, .fb.offset_mib, .fb.size_mib]]'; }
assert_eq "$(layout)" "[[0,272,1024],[1,1296,512],[2,1808,2048],[3,3856,3072]]" "initial layout"
ctl monitor --json >"$T/events.json" 2>"$T/monitor.err" &
PIDS+=($!)

# Dry run: the plan, nothing touched.
before=$(status)
out=$(ctl --json resize 0000:03:02.0 --memory 1536M --dry-run)
assert_eq "$(jq -c '[.dry_run, .memory_offset_mib, .memory_size_mib, [.moves[] | [.index, .from_mib, .to_mib]]]' <<<"$out")" \
  "[true,272,1536,[[1,1296,6928]]]" "dry-run reply"
[ "$(status)" = "$before" ] || fail "a dry run touched the host"
ctl resize 03:02.0 --memory 1536M --dry-run | grep -q "would move VF 1 (0000:03:02.1, 512 MiB) from 1296 MiB to 6928 MiB" ||
  fail "human dry-run output"

# Growing VF0 in place needs VF1's room. One move (VF1 into the free end) is enough; laying the VFs
# out again in index order would move VF1, VF2 and VF3.
ctl resize 03:02.0 --memory 1536M >"$T/r1.txt"
grep -q "^resized VF 0 (0000:03:02.0): 1536 MiB at 272 MiB" "$T/r1.txt" || fail "human output: $(cat "$T/r1.txt")"
grep -q "moved VF 1" "$T/r1.txt" || fail "human output names the move: $(cat "$T/r1.txt")"
assert_eq "$(layout)" "[[0,272,1536],[1,6928,512],[2,1808,2048],[3,3856,3072]]" "one move, VF2 and VF3 untouched"

# Fits in place: VF1 grows into the free space after it; nothing else moves.
out=$(ctl --json resize 03:02.1 --memory 1G)
assert_eq "$(jq -c '[.memory_offset_mib, .memory_size_mib, .moves]' <<<"$out")" "[6928,1024,[]]" "in place, no move"
assert_eq "$(layout)" "[[0,272,1536],[1,6928,1024],[2,1808,2048],[3,3856,3072]]" "in-place resize"

# Cannot fit: NoSpace (exit 7), nothing changed.
before=$(status)
rc=0; ctl resize 03:02.2 --memory 6G 2>"$T/ns.err" || rc=$?
assert_eq "$rc" 7 "exit status of a resize that cannot fit"
grep -q "NoSpace" "$T/ns.err" || fail "NoSpace not named: $(cat "$T/ns.err")"
[ "$(status)" = "$before" ] || fail "a refused resize touched the host"
rc=0; ctl --json resize 03:02.2 --memory 6G >"$T/ns.json" 2>/dev/null || rc=$?
assert_eq "$(jq -r .error "$T/ns.json")" "io.mxgpu.Manager.NoSpace" "--json error reply"

# Bad values: usage errors before or at the daemon.
rc=0; ctl resize 03:02.2 --memory 100M 2>/dev/null || rc=$?; assert_eq "$rc" 2 "100M is below the VF minimum"
rc=0; ctl resize 03:02.2 --time-slice 1500us 2>"$T/ts.err" || rc=$?; assert_eq "$rc" 2 "a time slice of 1.5 ms"
grep -q "whole milliseconds" "$T/ts.err" || fail "time-slice refusal: $(cat "$T/ts.err")"
# The same at the daemon for other clients: the limit said, the value echoed in its unit.
out=$("$B/tools/ctl-raw" send "$SOCK" '{"method":"io.mxgpu.Manager.Resize","parameters":{"device":"0000:03:02.2","time_slice_us":256000}}' \
      '{"method":"io.mxgpu.Manager.Resize","parameters":{"device":"0000:03:02.2","memory_mib":4294967552}}')
grep -q '"key":"time_slice","value":"256ms","message":"out of range: use 1ms to 255ms' <<<"$out" || fail "time slice echo: $out"
grep -q 'memory 4294967552 MiB: too large: at most 4294967280 MiB' <<<"$out" || fail "memory limit: $out"
rc=0; ctl resize 03:02.2 2>/dev/null || rc=$?; assert_eq "$rc" 2 "nothing to change"
rc=0; ctl resize 03:00.0 --memory 1G 2>/dev/null || rc=$?; assert_eq "$rc" 5 "a PF is not a VF"
rc=0; ctl resize 03:07.0 --memory 1G 2>/dev/null || rc=$?; assert_eq "$rc" 5 "no such VF"

# VF in use: InUse (exit 6) naming the holder; nothing changed. This shell holds the group; mxgpuctl
# is started without fd 3, or it would hold the group too and be named whenever its pid is the lower
# one (after the pid counter wraps).
exec 3<>"$R$(jqs '.pfs[0].vfs[2].vfio')"
before=$(status)
rc=0; ctl resize 03:02.2 --memory 1G 2>"$T/busy.err" 3>&- || rc=$?
assert_eq "$rc" 6 "exit status of resizing a VF in use"
grep -q "in use by .*(pid $$)" "$T/busy.err" || fail "refusal does not name the holder: $(cat "$T/busy.err")"
rc=0; ctl set-vfs 03:00.0 2 2>"$T/busy2.err" || rc=$?
assert_eq "$rc" 6 "exit status of set-vfs with a VF in use"
grep -q "0000:03:02.2 (vf 2) by" "$T/busy2.err" || fail "set-vfs refusal does not name the VF: $(cat "$T/busy2.err")"
[ "$(status | jq -c 'del(.pfs[].vfs[].share)')" = "$(jq -c 'del(.pfs[].vfs[].share)' <<<"$before")" ] || fail "a refused change touched the host"
# The human list and show say why: the VF is in use, though no VM has it.
ctl show 03:02.2 | grep -q "^in use: *yes" || fail "show does not say the VF is in use: $(ctl show 03:02.2)"
ctl list | grep -q "^0000:03:02.2 .* (in use)$" || fail "list does not mark the VF in use: $(ctl list)"
ctl list | grep -q "^0000:03:02.1 .* -$" || fail "list marks an idle VF: $(ctl list)"
# Only its time slice changes while a VM uses it (hardware.md 4 holds only the framebuffer still).
ctl resize 03:02.2 --time-slice 10ms >/dev/null || fail "time slice of a VF in use"
assert_eq "$(jqs '.pfs[0].vfs[2].time_quantum_ms')" 10 "time slice of VF2 in use"
rc=0; ctl resize 03:02.2 --memory 1G --time-slice 9ms 2>/dev/null || rc=$?
assert_eq "$rc" 6 "exit status of resizing memory and slice of a VF in use"
assert_eq "$(jqs '.pfs[0].vfs[2].time_quantum_ms')" 10 "a refused resize left the slice"
# An idle VF next to it may still change; the VF in use never moves.
ctl resize 03:02.3 --time-slice 12ms >/dev/null
assert_eq "$(jqs '.pfs[0].vfs[3].time_quantum_ms')" 12 "time slice of VF3"
assert_eq "$(layout)" "[[0,272,1536],[1,6928,1024],[2,1808,2048],[3,3856,3072]]" "layout untouched by a time-slice change"
exec 3>&-

# The override is the daemon's desired state: apply and a restart keep it; list shows it.
ctl apply >/dev/null
assert_eq "$(layout)" "[[0,272,1536],[1,6928,1024],[2,1808,2048],[3,3856,3072]]" "apply keeps the live override"
assert_eq "$(ctl list --json | jq -c '[.pfs[0].override.vfs[] | [.index, .memory_offset_mib, .memory_size_mib, .time_slice_us]]')" \
  "[[0,272,1536,null],[1,6928,1024,null],[2,1808,2048,10000],[3,3856,3072,12000]]" "list shows the override"
ctl list | grep -q "^0000:03:00.0: live override (dropped on reload): VF 0 1536 MiB at 272 MiB; .*; VF 3 3 GiB at 3856 MiB, 12 ms time slice$" ||
  fail "human list does not show the override: $(ctl list)"
ctl show 03:00.0 | grep -q "^override: *live, dropped on reload$" || fail "show PF does not show the override: $(ctl show 03:00.0)"
ctl show 03:00.0 | grep -q "^ *VF 3: 3 GiB at 3856 MiB, 12 ms time slice$" || fail "show PF: the override of VF 3: $(ctl show 03:00.0)"
kill "$DPID"; wait "$DPID" 2>/dev/null || true
daemon_start
assert_eq "$(layout)" "[[0,272,1536],[1,6928,1024],[2,1808,2048],[3,3856,3072]]" "a restart keeps the live override"
assert_eq "$(jqs '.pfs[0].vfs[3].time_quantum_ms')" 12 "a restart keeps the time slice"

# The vf-resized event reached the monitor (started before the restart).
ev=$(jq -c 'select(.type == "vf-resized") | [.vf, .memory_offset_mib, .memory_size_mib, .time_slice_ms, (.moves | length)]' "$T/events.json")
assert_eq "$(tr '\n' ' ' <<<"$ev")" "[0,272,1536,6,1] [1,6928,1024,6,0] [2,1808,2048,10,0] [3,3856,3072,12,0] " "vf-resized events"

# Plan shows what a reload would do: from the files alone, even where an override would not fit them.
ctl plan --json | jq -e '.pfs[0].actions | map(.action) | index("framebuffer") != null' >/dev/null ||
  fail "plan with live overrides: $(ctl plan 2>&1)"

# Reload drops the overrides: the config's layout again.
ctl reload >/dev/null
assert_eq "$(layout)" "[[0,272,1024],[1,1296,512],[2,1808,2048],[3,3856,3072]]" "reload drops the overrides"
assert_eq "$(ctl list --json | jq -c '.pfs[0].override')" "null" "no override after reload"
! ctl list | grep -q "override" || fail "human list shows an override after reload: $(ctl list)"
! ctl show 03:00.0 | grep -q "^override:" || fail "show PF shows an override after reload"

# --persist: the sizes go to the drop-in and survive a reload (laid out in index order).
ctl resize 03:02.1 --memory 1G --time-slice 9ms --persist >/dev/null
drop=$CONF.d/90-mxgpuctl.conf
grep -q '^\[vf 0000:03:00.0 1\]$' "$drop" || fail "drop-in: $(cat "$drop")"
grep -q '^time_slice = 9ms$' "$drop" || fail "drop-in time slice: $(cat "$drop")"
grep -q '^vf_memory = 1024M$' "$drop" || fail "drop-in size: $(cat "$drop")"
ctl reload >/dev/null
assert_eq "$(layout)" "[[0,272,1024],[1,1296,1024],[2,2320,2048],[3,4368,3072]]" "persisted sizes after reload"
assert_eq "$(jqs '.pfs[0].vfs[1].time_quantum_ms')" 9 "persisted time slice after reload"

# set-vfs: checked like the config: fewer VFs than the config's [vf] sections name is refused.
rc=0; ctl set-vfs 03:00.0 2 2>"$T/sv.err" || rc=$?
assert_eq "$rc" 2 "set-vfs below a configured [vf] section"
grep -q "rz.conf:12: .*VF 3 does not exist" "$T/sv.err" || fail "set-vfs refusal names the section: $(cat "$T/sv.err")"
assert_eq "$(jqs '.pfs[0].numvfs')" 4 "refused set-vfs changed nothing"
write_config rz <<'C'
[gpu *]
vfs = 4
C
ctl reload >/dev/null
# set-vfs: dry run, live, persisted, both output forms.
out=$(ctl --json set-vfs 03:00.0 2 --dry-run)
assert_eq "$(jq -c '[.dry_run, .num_vfs, (.actions | map(.action) | index("vf-count") != null)]' <<<"$out")" "[true,2,true]" "set-vfs dry run"
assert_eq "$(jqs '.pfs[0].numvfs')" 4 "dry run changed nothing"
ctl set-vfs 03:00.0 2 | grep -q "now has 2 VFs, ready" || fail "set-vfs human output"
assert_eq "$(jqs '.pfs[0].numvfs')" 2 "set-vfs 2"
out=$(ctl --json set-vfs 03:00.0 3 --persist)
assert_eq "$(jq -c '[.num_vfs, .state, (.persisted | endswith("90-mxgpuctl.conf"))]' <<<"$out")" '[3,"ready",true]' "set-vfs --persist"
grep -q '^vfs = 3$' "$drop" || fail "drop-in vfs: $(cat "$drop")"
[ "$(grep -c '^\[' "$drop")" = 2 ] || fail "drop-in: one [vf] and one [gpu] section: $(cat "$drop")"
grep -q '^time_slice = 9ms$' "$drop" || fail "drop-in lost the time slice of VF 1: $(cat "$drop")"
ctl reload >/dev/null
assert_eq "$(jqs '.pfs[0].numvfs')" 3 "persisted count after reload"
rc=0; ctl set-vfs 03:00.0 3 5 2>/dev/null || rc=$?; assert_eq "$rc" 2 "set-vfs with an extra argument"
rc=0; ctl set-vfs 03:00.0 999 2>"$T/many.err" || rc=$?; assert_eq "$rc" 2 "more VFs than the card has"

# --persist that a reload would undo is refused before anything changes, naming the line that wins:
# a later drop-in...
printf '[gpu 0000:03:00.0]\nvfs = 8\n[vf 0000:03:00.0 1]\ntime_slice = 3ms\n' >"$CONF.d/95-site.conf"
cp "$drop" "$T/drop.before"
before=$(status)
for dry in "" --dry-run; do
  rc=0; ctl set-vfs 03:00.0 2 --persist $dry 2>"$T/p1.err" || rc=$?
  assert_eq "$rc" 2 "set-vfs --persist $dry under a later drop-in"
  grep -q "95-site.conf:2: vfs = 8: overrides vfs = 2 that --persist would write to .*90-mxgpuctl.conf" "$T/p1.err" ||
    fail "set-vfs --persist $dry does not name the line that wins: $(cat "$T/p1.err")"
done
rc=0; ctl resize 03:02.1 --time-slice 5ms --persist 2>"$T/p2.err" || rc=$?
assert_eq "$rc" 2 "resize --persist under a later drop-in"
grep -q "95-site.conf:4: time_slice = 3ms: overrides time_slice = 5ms" "$T/p2.err" || fail "resize --persist: $(cat "$T/p2.err")"
cmp -s "$drop" "$T/drop.before" || fail "a refused --persist wrote the drop-in: $(cat "$drop")"
[ "$(status)" = "$before" ] || fail "a refused --persist changed the host"
assert_eq "$(ctl list --json | jq -c '.pfs[0].override')" "null" "a refused --persist left a live override"
rm "$CONF.d/95-site.conf"
# ...and the same section twice in the drop-in: every copy gets the value
printf '[gpu 0000:03:00.0]\nvfio = yes\n\n[gpu 0000:03:00.0]\nvfs = 8\n' >"$drop"
ctl set-vfs 03:00.0 2 --persist >/dev/null
assert_eq "$(grep -c '^vfs = 2$' "$drop")" 1 "drop-in after set-vfs --persist: $(cat "$drop")"
grep -q '^vfs = 8$' "$drop" && fail "the second copy kept vfs = 8: $(cat "$drop")"
ctl reload >/dev/null
assert_eq "$(jqs '.pfs[0].numvfs')" 2 "persisted count after reload, with the section twice"
echo "resize: in place, one move, no space, in use, dry run, overrides, persist (and when it would not last); set-vfs"
