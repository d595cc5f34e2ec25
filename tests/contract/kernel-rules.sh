#!/bin/bash
# SPDX-License-Identifier: MIT
# Contract: the kernel-rule binary passes against every PF of the presets s7150, s7150x2, mi300x and nvme.
set -euo pipefail
. "$(dirname "$0")/lib/sim.sh"
[ -x "$CONTRACT" ] || fail "missing $CONTRACT"
for host in s7150 s7150x2 mi300x nvme; do
  sim_start "$host"
  pfs=$(sim_pfs)
  [ -n "$pfs" ] || fail "$host: no PF with SR-IOV"
  for pf in $pfs; do
    echo "== $host $pf"
    MXGPU_ROOT=$ROOT MXGPU_TEST_PF=$pf "$CONTRACT" || fail "$host $pf"
  done
  # the generic subset alone, as it runs inside a VM against a real kernel
  MXGPU_ROOT=$ROOT MXGPU_TEST_PF=$(echo "$pfs" | head -n1) MXGPU_TEST_GENERIC_ONLY=1 "$CONTRACT" || fail "$host generic"
  sim_stop
done
