# SPDX-License-Identifier: MIT
# mxgpuctl doctor without the daemon: passes on a healthy simulated host and names each problem of the
# problem hosts (no IOMMU, no MMIO room, firmware without SR-IOV/ARI, amdgpu on a PF, VFs on a host
# driver, missing modules, libvirt down) with a fix; exit 1 on a fail; --json.
source "$(dirname "$0")/../lib.sh"
need_root
RAW=$B/tools/ctl-raw
HOSTS=$SRC/tests/hosts
doc() { "$MXGPUCTL" --root "$R" --socket "$T/nothing.sock" doctor "$@"; }
# verdict CHECK [DEVICE]: the status of one check in the last JSON report
verdict() { jq -r --arg c "$1" --arg d "${2:-}" '[.checks[] | select(.check == $c and (($d == "") or .device == $d)) | .status] | join(",")' "$T/doc.json"; }
run_json() { rc=0; doc --json "$@" >"$T/doc.json" || rc=$?; }

# Healthy host with libvirt listening: everything ok, exit 0, both output forms.
"$RAW" listen "$T/libvirt-sock" >"$T/listen.out" &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$T/libvirt-sock" ] && break; sleep 0.02; done
sim_start s7150
run_json --libvirt-socket "$T/libvirt-sock"
assert_eq "$rc" 0 "doctor on a healthy host"
assert_eq "$(jq -r '[.ok, .summary.fail, .summary.warn] | @csv' "$T/doc.json")" "true,0,0" "healthy summary"
assert_eq "$(jq -r '[.checks[].check] | join(" ")' "$T/doc.json")" "iommu vfio-pci pci-pf-stub sriov ari mmio pf-driver libvirt" "the checks run"
jq -e 'all(.checks[]; (.message | length > 0) and .fix == null and (.status == "ok"))' "$T/doc.json" >/dev/null || fail "json shape"
doc --libvirt-socket "$T/libvirt-sock" >"$T/doc.txt"
grep -q "^ok    iommu" "$T/doc.txt" && grep -q "8 ok, 0 warnings, 0 failed" "$T/doc.txt" || fail "human output: $(cat "$T/doc.txt")"
# The messages line up after the longest check name (pci-pf-stub), and a PF's address is said once.
assert_eq "$(grep -v " failed$" "$T/doc.txt" | awk '{ match($0, /^[a-z]+ +[a-z-]+ +/); print RLENGTH }' | sort -u)" 19 "message column"
grep "^ok    sriov " "$T/doc.txt" | grep -q "^ok    sriov        0000:03:00.0: AMD FirePro S7150 / S7150x2: SR-IOV" || fail "sriov line: $(grep sriov "$T/doc.txt")"
# $MXGPU_ROOT works as --root; a root that is not a directory is a usage error, not false failures.
MXGPU_ROOT=$R "$MXGPUCTL" --json doctor --libvirt-socket "$T/libvirt-sock" >"$T/env.json" || fail "doctor with \$MXGPU_ROOT"
assert_eq "$(jq -r '[.ok, .summary.fail, .summary.warn] | @csv' "$T/env.json")" "true,0,0" "doctor with \$MXGPU_ROOT"
for bad in /nonexistent-root "$T/listen.out"; do
  rc=0; "$MXGPUCTL" --root "$bad" doctor >"$T/bad.out" 2>"$T/bad.err" || rc=$?
  assert_eq "$rc" 2 "doctor --root $bad"
  grep -q -- "--root $bad: \(no such directory\|not a directory\)" "$T/bad.err" || fail "--root $bad: $(cat "$T/bad.err")"
  [ ! -s "$T/bad.out" ] || fail "doctor --root $bad ran: $(cat "$T/bad.out")"
  rc=0; MXGPU_ROOT=$bad "$MXGPUCTL" doctor >/dev/null 2>"$T/bad.err" || rc=$?
  assert_eq "$rc" 2 "MXGPU_ROOT=$bad doctor"
  grep -q "MXGPU_ROOT=$bad: " "$T/bad.err" || fail "MXGPU_ROOT=$bad: $(cat "$T/bad.err")"
done
# libvirt down: a warning, not a failure.
run_json
assert_eq "$rc" 0 "libvirt down is only a warning"
assert_eq "$(verdict libvirt)" warn "libvirt down"
doc | grep -q "fix: start libvirt" || fail "libvirt fix not printed"
"$SIM" stop --root "$R"

sim_start "$HOSTS/no-iommu.ini"
run_json
assert_eq "$rc" 1 "exit status without IOMMU"
assert_eq "$(verdict iommu)" fail "IOMMU off"
jq -r '.checks[] | select(.check == "iommu") | .fix' "$T/doc.json" | grep -q "intel_iommu=on" || fail "IOMMU fix"
"$SIM" stop --root "$R"

sim_start "$HOSTS/no-above-4g.ini"
run_json
assert_eq "$rc" 1 "exit status without MMIO room"
assert_eq "$(verdict mmio)" fail "no MMIO room"
jq -r '.checks[] | select(.check == "mmio") | .message, .fix' "$T/doc.json" | grep -q "Above 4G decoding" || fail "MMIO fix"
jq -r '.checks[] | select(.check == "mmio") | .message' "$T/doc.json" | grep -q "room for 3 VFs" || fail "MMIO VFs that fit"
assert_eq "$(verdict sriov)" ok "SR-IOV itself is fine there"
"$SIM" stop --root "$R"

sim_start "$HOSTS/firmware-limits.ini"
run_json
assert_eq "$rc" 1 "exit status with SR-IOV and ARI off"
assert_eq "$(verdict sriov)" fail "SR-IOV hidden"
assert_eq "$(verdict ari)" fail "ARI forwarding off"
jq -r '.checks[] | select(.check == "sriov") | .message' "$T/doc.json" | grep -q "firmware hides it" || fail "SR-IOV message"
"$SIM" stop --root "$R"

sim_start "$HOSTS/gim-host.ini"
run_json
assert_eq "$rc" 1 "exit status with amdgpu on a PF"
assert_eq "$(verdict pf-driver 0000:07:00.0)" fail "amdgpu on the MI300X"
assert_eq "$(verdict pf-driver 0000:03:00.0)" ok "gim on the S7150x2"
assert_eq "$(verdict vf-drivers 0000:03:00.0)" warn "VFs held by a host driver"
jq -r '.checks[] | select(.check == "vf-drivers" and .device == "0000:03:00.0") | .message' "$T/doc.json" | grep -q "on amdgpu" ||
  fail "the grabbing driver is named"
"$SIM" stop --root "$R"

# A VF count the firmware caps below the card's: a warning naming both numbers and the likely cause.
cat >"$T/capped.ini" <<'H'
[pf 0000:05:00.0]
model = s7150
total_vfs = 4
H
sim_start "$T/capped.ini"
run_json
assert_eq "$(verdict sriov)" warn "TotalVFs capped"
jq -r '.checks[] | select(.check == "sriov") | .message, .fix' "$T/doc.json" | tr '\n' ' ' |
  grep -q "up to 4 VFs, fewer than the card's 16: the firmware caps it.*BIOS" || fail "capped message: $(cat "$T/doc.json")"
"$SIM" stop --root "$R"

# A plain directory tree: modules missing, no GPU.
R=$T/bare
mkdir -p "$R/sys/bus/pci/devices" "$R/sys/bus/pci/drivers" "$R/sys/kernel/iommu_groups/0"
run_json
assert_eq "$rc" 1 "exit status without vfio-pci"
assert_eq "$(verdict vfio-pci),$(verdict pci-pf-stub),$(verdict gpus)" "fail,fail,warn" "missing modules, no GPU"
jq -r '.checks[] | select(.check == "vfio-pci") | .fix' "$T/doc.json" | grep -q "modprobe vfio-pci" || fail "module fix"
echo "doctor: healthy host passes; IOMMU, MMIO room, SR-IOV/ARI, amdgpu, VF drivers, modules and libvirt named"
