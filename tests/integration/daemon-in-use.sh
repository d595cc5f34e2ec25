# SPDX-License-Identifier: MIT
# The kernel changes a VF count only through 0: refused while a VM holds a VF, naming it; a VF in use
# keeps its framebuffer; the same changes go through once the VM lets go.
source "$(dirname "$0")/../lib.sh"
need_root
sim_start s7150
write_config use <<'C'
[gpu *]
vfs = 4
C
mxgpud_once >"$T/1.log" 2>&1 || fail "bring-up: $(cat "$T/1.log")"
vf2=$(jqs '.pfs[0].vfs[2].address')
exec 3<>"$R$(jqs '.pfs[0].vfs[2].vfio')"
before=$(status)

write_config use <<'C'
[gpu *]
vfs = 3
C
rc=0; mxgpud_once >"$T/2.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status when the count change is refused"
grep -q "in use: .*$vf2 (vf 2)" "$T/2.log" || fail "refusal does not name the VF in use: $(cat "$T/2.log")"
[ "$(status | jq -c 'del(.pfs[].vfs[].share)')" = "$(jq -c 'del(.pfs[].vfs[].share)' <<<"$before")" ] || fail "a refused change touched the host"

write_config use <<'C'
[gpu *]
vfs = 4
[vf 0000:03:00.0 2]
vf_memory = 512M
C
rc=0; mxgpud_once >"$T/3.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status when resizing a VF in use"
grep -q "framebuffer .*in use: .*$vf2" "$T/3.log" || fail "resize refusal does not name the VF: $(cat "$T/3.log")"
assert_eq "$(jqs '.pfs[0].vfs[2].fb.size_mib')" 1968 "in-use VF keeps its framebuffer"

exec 3>&-
mxgpud_once >"$T/4.log" 2>&1 || fail "after release: $(cat "$T/4.log")"
assert_eq "$(jqs '.pfs[0].vfs[2].fb.size_mib')" 512 "resized after the VM let go"
echo "changes to VFs in use refused with their names; applied once free"
