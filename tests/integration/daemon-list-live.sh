# SPDX-License-Identifier: MIT
# List answers from the daemon's last look at each PF, but what changes without any event stays live:
# a process that opens a VF's VFIO group shows the VF in use at the next List, and not after it
# closes the group. No udev events reach the daemon here.
source "$(dirname "$0")/../lib.sh"
need_root
sim_start s7150x2
write_config live <<'C'
[gpu *]
vfs = 2
C
daemon_start
for _ in $(seq 200); do [ "$(jqs '[.pfs[].vfs[] | select(.driver == "vfio-pci")] | length')" = 4 ] && break; sleep 0.05; done
in_use() { ctl list --json | jq -r ".pfs[].vfs[] | select(.address == \"$1\") | .in_use"; }
vf=$(jqs '.pfs[1].vfs[0].address')
other=$(jqs '.pfs[0].vfs[1].address')
assert_eq "$(in_use "$vf")" false "$vf before anyone opens its group"
c=$(cycles)

exec 3<>"$R$(jqs '.pfs[1].vfs[0].vfio')"
assert_eq "$(in_use "$vf")" true "$vf while a process holds its VFIO group"
assert_eq "$(in_use "$other")" false "$other (its group is not open)"
assert_eq "$(ctl --json show "$vf" | jq -r .vf.in_use)" true "show $vf while its group is held"
exec 3>&-
assert_eq "$(in_use "$vf")" false "$vf after the process closed its group"
assert_eq "$(cycles)" "$c" "List must not run cycles"
echo "in_use follows VFIO group holders at every List, without events"
