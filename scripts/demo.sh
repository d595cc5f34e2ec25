#!/bin/bash
# SPDX-License-Identifier: MIT
# make demo: mxgpud against a simulated S7150x2 host, from nothing to VFs on vfio-pci, then a live change.
set -euo pipefail
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
B=$here/$BUILD
[[ $BUILD == /* ]] && B=$BUILD
HOST=${MXGPU_DEMO_HOST:-s7150x2}
D=$(mktemp -d /tmp/mxgpu-demo.XXXXXX)
R=$D/host
mkdir -p "$R"
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  "$B/mxgpu-sim" stop --root "$R" >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "A simulated host: $HOST (FUSE sysfs at $R/sys, the kernel's own latencies)"
"$B/mxgpu-sim" start --host "$HOST" --root "$R"
show lspci -A linux-sysfs -O sysfs.path="$R/sys/bus/pci" -nn -d 1002:

step "A short config"
cat >"$D/mxgpu.conf" <<CONF
[daemon]
state_dir = $D/state
libvirt_uri = test:///default   ; libvirt's test driver: no libvirtd needed for the demo

[gpu *]                  ; every supported card
vfs = 4
vf_memory = auto         ; the rest of the framebuffer, split evenly
time_slice = 6ms

[vf 0000:03:00.0 2]      ; one bigger VF with a longer slice
vf_memory = 4G
time_slice = 12ms
CONF
cat "$D/mxgpu.conf"

step "mxgpud --check-config: validate against the cards, change nothing"
show "$B/mxgpud" --root "$R" --config "$D/mxgpu.conf" --check-config

step "mxgpud brings every PF up (PFs in parallel)"
"$B/mxgpud" --root "$R" --config "$D/mxgpu.conf" --socket "$D/mxgpud.sock" 2>"$D/mxgpud.log" &
daemon=$!
for _ in $(seq 200); do "$B/mxgpuctl" --socket "$D/mxgpud.sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
sed 's/^/  mxgpud: /' "$D/mxgpud.log"
show "$B/mxgpuctl" --socket "$D/mxgpud.sock" list

step "The hardware's own view (the simulator), with every VF busy"
show "$B/mxgpu-sim" status --root "$R"

step "The VF pool VMs draw from (published to libvirt)"
show "$B/mxgpuctl" --socket "$D/mxgpud.sock" pool

step "A live resize of an idle VF: the allocator moves as few idle VFs as possible"
show "$B/mxgpuctl" --socket "$D/mxgpud.sock" resize 0000:04:02.1 --memory 1G
show "$B/mxgpuctl" --socket "$D/mxgpud.sock" resize 0000:04:02.0 --memory 2864M --dry-run

step "mxgpuctl doctor: the platform checks, in plain words"
show "$B/mxgpuctl" --root "$R" doctor || true

step "A change: 0000:04:00.0 gets 2 VFs; plan first, then reload"
printf '\n[gpu 0000:04:00.0]\nvfs = 2\n' >>"$D/mxgpu.conf"
show "$B/mxgpuctl" --socket "$D/mxgpud.sock" plan
show "$B/mxgpuctl" --socket "$D/mxgpud.sock" reload
show "$B/mxgpuctl" --socket "$D/mxgpud.sock" list

step "Done: mxgpud exits on SIGTERM and leaves the VFs in place"
