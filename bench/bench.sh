#!/bin/bash
# SPDX-License-Identifier: MIT
# make bench: bring-up and control-plane speed of mxgpud against the floor (bench/floor.c) and the tools
# admins use (a shell loop, driverctl), side by side in one run; prints one table (docs/performance.md).
# Environment: BENCH_REPS (bring-up repetitions, default 5), BENCH_IDLE_S (idle window, default 30),
# BENCH_VM=0 (leave out the real-kernel rows; BENCH_VM_REPS, MXGPU_VM_VFS, MXGPU_VM_PFS, BENCH_VM_LIBVIRT:
# bench/vm-bench.sh), BENCH_SCALING=0 (leave out the scaling fits), BENCH_RESIZES (idle VF resizes,
# default 50).
MXGPU_SRC=${MXGPU_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
source "$MXGPU_SRC/tests/lib.sh"
need_root
BB=$B/bench
REPS=${BENCH_REPS:-5}
IDLE_S=${BENCH_IDLE_S:-30}
HOST='s7150x2*4'
for p in "$BB/floor" "$BB/load" "$BB/spawn" "$MXGPUD" "$MXGPUCTL" "$SIM"; do [ -x "$p" ] || fail "missing $p: run make bench"; done

ROWS=()
print_table() {
  {
    echo "| measurement | result | target | verdict |"
    echo "|---|---|---|---|"
    for r in "${ROWS[@]}"; do IFS=$'\t' read -r a b c d <<<"$r"; echo "| $a | $b | $c | $d |"; done
  } | tee "$B/bench/table.md"
}
trap 'rc=$?; [ $rc -ne 0 ] && [ ${#ROWS[@]} -gt 0 ] && { echo "bench: stopped early (exit $rc); rows so far:" >&2; print_table; }; (exit $rc); cleanup' EXIT
row() { ROWS+=("$(printf '%s\t%s\t%s\t%s' "$@")"); } # what, figure, target, verdict
# stamp VAR: the time in us into VAR, with no subshell ($(...) forks, which costs 1-3 ms on these
# machines and fell inside the timed window)
stamp() { printf -v "$1" %s "${EPOCHREALTIME/./}"; }
# median and spread of numbers on stdin, printed with FMT (default "median min max" in whole ms)
stats() { sort -n | awk -v f="${1:-%.0f %.0f %.0f\n}" '{ a[NR] = $1 } END { printf f, a[int((NR + 1) / 2)], a[1], a[NR] }'; }
ok() { awk "BEGIN { exit !($1) }" && echo met || echo MISSED; }

# settle: the state a host is in when mxgpud starts at boot. udev's coldplug has read every device's
# uevent (and so looked up its sysfs directory), and nothing else is running. A freshly started
# simulator answers its first requests slower for a few hundred milliseconds (the first bus scan
# took 15 ms, after half a second 3-6 ms), which would fall on whichever contender reads most first.
settle() {
  find "$R/sys/devices" -name uevent -exec cat {} + >/dev/null
  sleep 0.5
}

# timed NAME CMD...: runs CMD on a fresh simulated $SPEC host, checks every VF ended on vfio-pci, appends ms.
declare -A MS
runs() { tr ' ' '\n' <<<"${MS[$1]}" | grep .; } # the times of contender $1, one a line, in run order
timed() {
  local name=$1 t0 t1 want got
  shift
  sim_start "$SPEC" realistic
  settle
  stamp t0
  "$@" >"$T/$name.log" 2>&1 || fail "$name: $(tail -n 3 "$T/$name.log")"
  stamp t1
  want=$(jqs '[.pfs[] | .numvfs] | add')
  got=$(jqs '[.pfs[].vfs[] | select(.driver == "vfio-pci")] | length')
  [ "$want" -gt 0 ] && [ "$got" = "$want" ] || fail "$name: $got of $want VFs on vfio-pci after the run"
  "$SIM" stop --root "$R" >/dev/null || true
  MS[$name]+="$(( (t1 - t0) / 1000 )) "
}

write_config gpus <<'EOF'
udev = no
[gpu *]
EOF
# The [daemon] section comes first in write_config's file; "udev = no" lands in it.
run_mxgpud() { rm -rf "$T/state"; "$MXGPUD" --root "$R" --config "$CONF" --once; }
run_floor() { "$BB/floor" --root "$R"; }
run_shell() { "$SRC/bench/shell-bringup.sh" "$R"; }
# driverctl only knows /sys: the simulated tree is bound over the real paths in a private mount
# namespace. /sys/module gets a tmpfs with vfio-pci in it (driverctl would otherwise modprobe, which
# must not touch the host), /etc/driverctl.d a tmpfs (driverctl saves each override there).
run_driverctl() {
  unshare --mount bash -c '
    set -e
    R=$1 src=$2
    mount --make-rprivate /
    mount --bind "$R/sys/bus/pci" /sys/bus/pci
    mount --bind "$R/sys/devices/pci0000:00" /sys/devices/pci0000:00
    mount --bind "$R/sys/kernel/iommu_groups" /sys/kernel/iommu_groups
    mount -t tmpfs tmpfs /sys/module && mkdir /sys/module/vfio-pci
    mkdir -p /etc/driverctl.d && mount -t tmpfs tmpfs /etc/driverctl.d
    BINDER=driverctl "$src/bench/shell-bringup.sh" /' bash "$R" "$SRC"
}

# --- 1. bring-up on the simulator ---
echo "bench: bring-up of $HOST (8 PFs x 16 VFs, realistic latency), $REPS runs each, interleaved" >&2
SPEC=$HOST
command -v driverctl >/dev/null || fail "driverctl missing: scripts/deps.sh bench"
for ((rep = 0; rep < REPS; rep++)); do
  for c in floor mxgpud shell driverctl; do timed "$c" "run_$c"; done
done
read -r floor_ms floor_lo floor_hi < <(runs floor | stats)
row "bring-up 128 VFs: floor (bench/floor.c, PFs on threads)" "${floor_ms} ms (${floor_lo}-${floor_hi})" "-" "-"
for c in mxgpud shell driverctl; do
  read -r m lo hi < <(runs "$c" | stats)
  ratio=$(awk -v a="$m" -v b="$floor_ms" 'BEGIN { printf "%.2f", a / b }')
  case $c in
  # Beside the ratio of the medians, the ratio within each round (floor and mxgpud ran back to back,
  # so a slow spell of the machine weighs on both): its median and range say how firm the verdict is.
  mxgpud) paired=$(paste <(runs floor) <(runs mxgpud) | awk '{ print $2 / $1 }' | stats '%.2fx, %.2f-%.2fx')
          row "bring-up 128 VFs: mxgpud --once" "${m} ms (${lo}-${hi}) = ${ratio}x floor (round by round: median ${paired})" \
            "<= 1.10x floor" "$(ok "$ratio <= 1.10")"
          mx_ms=$m ;;
  shell) row "bring-up 128 VFs: shell loop (echo + setpci)" "${m} ms (${lo}-${hi}) = ${ratio}x floor" "mxgpud >= 5x faster" \
           "$(awk -v s="$m" -v d="$mx_ms" 'BEGIN { printf "%.1fx: ", s / d }')$(ok "$m >= 5 * $mx_ms")" ;;
  driverctl) row "bring-up 128 VFs: shell + driverctl set-override" "${m} ms (${lo}-${hi}) = ${ratio}x floor" "mxgpud >= 5x faster" \
           "$(awk -v s="$m" -v d="$mx_ms" 'BEGIN { printf "%.1fx: ", s / d }')$(ok "$m >= 5 * $mx_ms")" ;;
  esac
done

# Where mxgpud's bring-up time goes: one more run with debug logging (not among the timed ones).
# The cycle line gives scan, resolve, the PF threads and the state file; each PF logs its phases.
sim_start "$HOST" realistic
settle
rm -rf "$T/state"
stamp t0
"$MXGPUD" --root "$R" --config "$CONF" --once --log-level debug >"$T/profile.log" 2>&1 || fail "profile run: $(tail -n 3 "$T/profile.log")"
stamp t1
"$SIM" stop --root "$R" >/dev/null || true
prof=$("$SRC/bench/profile.sh" $(( (t1 - t0) / 1000 )) <"$T/profile.log") || fail "profile run: no cycle line in $T/profile.log"
row "mxgpud --once, where the time goes (one run with --log-level debug: $(( (t1 - t0) / 1000 )) ms)" "$prof" "-" "-"

# --- 3 and 4. control plane and idle cost: the daemon with 128 VFs ---
# udev on, as in production: List answers from the last observation only while events can tell the
# daemon of changes (with udev = no it reads every PF per List). No udevd runs here, so no events arrive.
# libvirt reachable, as on a host where VMs run: its test driver (no libvirtd runs here). A second daemon
# below has libvirt not running.
echo "bench: control plane against mxgpud with 128 VFs" >&2
sim_start "$HOST" realistic
write_config daemon <<'EOF'
udev = yes
libvirt_uri = test:///default
[gpu *]
vfs = 16
EOF
rm -rf "$T/state"
daemon_start
for _ in $(seq 600); do
  [ "$(jqs '[.pfs[].vfs[] | select(.driver == "vfio-pci")] | length')" -ge 128 ] && break
  sleep 0.05
done
assert_eq "$(jqs '[.pfs[].vfs[] | select(.driver == "vfio-pci")] | length')" 128 "VFs on vfio-pci under the daemon"
sleep 1 # the first cycle's state file and the last log lines
# mxgpuctl list --json as a whole process: started with posix_spawn (bench/spawn.c), so the figure is
# mxgpuctl's own (exec, loading, connect, List, parse, print, exit), not a shell's fork; beside it the
# same for /bin/true, the least any process costs on this machine.
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
# field NAME LINE: the value of NAME=VALUE in a line of load or spawn
field() { sed "s/.*$1=\([^ ]*\).*/\1/" <<<"$2"; }
out=$("$BB/spawn" --runs 200 -- "$MXGPUCTL" --socket "$SOCK" list --json) || fail "spawn mxgpuctl list: $out"
p50=$(field p50_us "$out") p99=$(field p99_us "$out")
out=$("$BB/spawn" --runs 200 -- /bin/true) || fail "spawn /bin/true: $out"
t50=$(field p50_us "$out") t99=$(field p99_us "$out")
row "mxgpuctl list --json, 128 VFs (process round trip from posix_spawn to exit, 200 runs)" \
  "p50 $(ms "$p50") ms, p99 $(ms "$p99") ms (/bin/true the same way: p50 $(ms "$t50") ms, p99 $(ms "$t99") ms)" "p99 < 2 ms" \
  "$(ok "$p99 < 2000")$(awk "BEGIN { exit !($p99 >= 2000 && $t99 >= 2000) }" && echo " (out of reach here: /bin/true alone has a p99 of $(ms "$t99") ms)")"
out=$("$BB/load" --socket "$SOCK" --clients 1 --calls 200 --seconds 60) || fail "load: $out"
s50=$(field p50_us "$out") s99=$(field p99_us "$out")
# Beside it the least a call costs here: GetInfo, a reply of a few hundred bytes, on the same daemon.
out=$("$BB/load" --socket "$SOCK" --clients 1 --calls 200 --seconds 60 --method org.varlink.service.GetInfo) || fail "load: $out"
g50=$(field p50_us "$out") g99=$(field p99_us "$out")
row "List over the socket, 1 client (200 calls)" "p50 ${s50} us, p99 ${s99} us (GetInfo the same way: p50 ${g50} us, p99 ${g99} us)" \
  "p99 < 2 ms" "$(ok "$s99 < 2000")"
out=$("$BB/load" --socket "$SOCK" --clients 100 --calls 3 --seconds 120) || fail "load: $out"
c50=$(field p50_us "$out") c99=$(field p99_us "$out")
rate=$(field per_s "$out") nerr=$(field errors "$out")
row "List, 100 concurrent clients x 3 calls" "p50 ${c50} us, p99 ${c99} us, ${rate}/s, ${nerr} errors" "no errors" "$(ok "$nerr == 0")"
# Resize: one idle VF, alternately shrunk to 256 MiB and grown back, each timed as a process
# (mxgpuctl resize: connect, Resize = check, reprogram the partition, verify, state file, reply).
RESIZES=${BENCH_RESIZES:-50}
rvf=$(ctl --json list | jq -r '.pfs[0].vfs[3].address')
rsize=$(ctl --json show "$rvf" | jq -r '.vf.memory_size_mib')
[ "$rsize" -gt 256 ] || fail "resize: $rvf has $rsize MiB, expected more than 256"
lat=()
for ((i = 0; i < RESIZES; i++)); do
  want=$((i % 2 ? rsize : 256))
  stamp t0; ctl resize "$rvf" --memory "${want}M" >/dev/null || fail "resize $rvf to ${want} MiB"; stamp t1
  lat+=($((t1 - t0)))
done
assert_eq "$(ctl --json show "$rvf" | jq -r '.vf.memory_size_mib')" "$((RESIZES % 2 ? 256 : rsize))" "size of $rvf after the resizes (List)"
assert_eq "$(jqs ".pfs[].vfs[] | select(.address == \"$rvf\") | .fb.size_mib")" "$((RESIZES % 2 ? 256 : rsize))" "size of $rvf after the resizes (simulator)"
read -r p50 p99 < <(printf '%s\n' "${lat[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f %.1f\n", a[int((NR + 1) / 2)] / 1000, a[int(NR * 0.99 + 0.5)] / 1000 }')
row "idle VF resize end to end (mxgpuctl resize, ${rsize} MiB <-> 256 MiB, ${RESIZES} runs)" "p50 ${p50} ms, p99 ${p99} ms" "-" "-"

# libvirt not in use: a second daemon, 128 VFs on a second simulator, whose libvirt_uri is local but has no
# socket (libvirtd not running): it waits with inotify on the socket's folder and never loads libvirt.
# Both daemons then idle in the same window.
RA=$R DPID_A=$DPID
sim_start "$HOST" realistic
CONF_B=$T/nolibvirt.conf SOCK_B=$T/mxgpud-b.sock
printf '[daemon]\nstate_dir = %s/state-b\nudev = yes\nlibvirt_uri = qemu:///system?socket=%s/no-libvirtd/libvirt-sock\n[gpu *]\nvfs = 16\n' \
  "$T" "$T" >"$CONF_B"
"$MXGPUD" --root "$R" --config "$CONF_B" --socket "$SOCK_B" >>"$T/mxgpud-b.log" 2>&1 &
DPID_B=$!
PIDS+=("$DPID_B")
for _ in $(seq 600); do "$MXGPUCTL" --socket "$SOCK_B" ping >/dev/null 2>&1 && break; sleep 0.05; done
assert_eq "$(jqs '[.pfs[].vfs[] | select(.driver == "vfio-pci")] | length')" 128 "VFs on vfio-pci under the daemon without libvirt"
grep -q '/libvirt\.so' /proc/"$DPID_B"/maps && fail "the daemon without libvirtd loaded libvirt"
R=$RA
sleep 1 # its last log lines

# Idle: context switches of every thread (voluntary + involuntary) over the window; each is a wakeup.
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'; }
kb() { awk -v k="$2" '$1 == k ":" { print $2 }' /proc/"$1"/status; }
# Pss (each page divided by the processes mapping it) and private pages (mapped by this process alone), KiB.
pss() { awk '$1 == "Pss:" { print $2 }' /proc/"$1"/smaps_rollup; }
private() { awk '$1 == "Private_Clean:" || $1 == "Private_Dirty:" { s += $2 } END { print s }' /proc/"$1"/smaps_rollup; }
rss_a=$(kb "$DPID_A" VmRSS) anon_a=$(kb "$DPID_A" RssAnon) rss_b=$(kb "$DPID_B" VmRSS) anon_b=$(kb "$DPID_B" RssAnon)
pss_a=$(pss "$DPID_A") priv_a=$(private "$DPID_A") pss_b=$(pss "$DPID_B") priv_b=$(private "$DPID_B")
echo "bench: idle window of ${IDLE_S} s" >&2
wa0=$(switches "$DPID_A") wb0=$(switches "$DPID_B")
sleep "$IDLE_S"
wa1=$(switches "$DPID_A") wb1=$(switches "$DPID_B") tha=$(ls /proc/"$DPID_A"/task | wc -l) thb=$(ls /proc/"$DPID_B"/task | wc -l)
row "idle wakeups over ${IDLE_S} s, libvirt connected (test driver; ctxt switches, ${tha} threads)" "$((wa1 - wa0))" "0" "$(ok "$((wa1 - wa0)) == 0")"
row "idle wakeups over ${IDLE_S} s, libvirt not running (its socket's folder watched; ${thb} threads)" "$((wb1 - wb0))" "0" "$(ok "$((wb1 - wb0)) == 0")"
# VmRSS is the verdict; RssAnon is the daemon's own memory, the rest shared library pages (with libvirt:
# libvirt.so.0 and the ~50 libraries it loads). Pss and private memory beside it: what the library pages
# cost this process depends on who else maps them (no libvirtd runs here; on a host it maps the same pages).
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
rss_a2=$(kb "$DPID_A" VmRSS) anon_a2=$(kb "$DPID_A" RssAnon) rss_b2=$(kb "$DPID_B" VmRSS) anon_b2=$(kb "$DPID_B" RssAnon)
pss_a2=$(pss "$DPID_A") priv_a2=$(private "$DPID_A") pss_b2=$(pss "$DPID_B") priv_b2=$(private "$DPID_B")
row "RSS with 128 VFs, libvirt connected (test driver): after the List loads and resizes / after the idle window" \
  "VmRSS $(mib "$rss_a") / $(mib "$rss_a2") MiB (RssAnon $(mib "$anon_a") / $(mib "$anon_a2") MiB; Pss $(mib "$pss_a") / $(mib "$pss_a2") MiB; private $(mib "$priv_a") / $(mib "$priv_a2") MiB)" "< 8 MiB" \
  "$(ok "$rss_a < 8192 && $rss_a2 < 8192")"
row "RSS with 128 VFs, libvirt not running (not loaded): after bring-up / after the idle window" \
  "VmRSS $(mib "$rss_b") / $(mib "$rss_b2") MiB (RssAnon $(mib "$anon_b") / $(mib "$anon_b2") MiB; Pss $(mib "$pss_b") / $(mib "$pss_b2") MiB; private $(mib "$priv_b") / $(mib "$priv_b2") MiB)" "< 8 MiB" \
  "$(ok "$rss_b < 8192 && $rss_b2 < 8192")"
kill "$DPID_A" "$DPID_B"; wait "$DPID_A" "$DPID_B" 2>/dev/null || true
for r in "${ROOTS[@]}"; do "$SIM" stop --root "$r" >/dev/null 2>&1 || true; done

# --- 5. scaling: fits t = a + b*n by least squares ---
fit() { awk '{ n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
  END { b = (n * sxy - sx * sy) / (n * sxx - sx * sx); a = (sy - b * sx) / n; printf "t = %.0f + %.2f*n ms", a, b }'; }
if [ "${BENCH_SCALING:-1}" = 1 ]; then
  echo "bench: scaling over PFs (1-16 S7150, 16 VFs each) and VFs (one generic PF, 16-256)" >&2
  for who in mxgpud floor; do : >"$T/pfs.$who"; : >"$T/vfs.$who"; done
  for k in 1 2 4 8 16; do
    SPEC="s7150*$k"
    for who in mxgpud floor; do MS[$who]=; timed "$who" "run_$who"; echo "$k ${MS[$who]}" >>"$T/pfs.$who"; done
  done
  for n in 16 32 64 128 256; do
    printf '[pf 0000:05:00.0]\nvendor = 0x1b36\ndevice = 0x0010\nvf_device = 0x0010\nclass = 0x010802\ntotal_vfs = %s\nvf_offset = 1\nvf_stride = 1\nbar0 = 16K\nvf_bar0 = 16K\nvf_bar2 = 0\nlayout = none\ndriver = nvme\n' "$n" >"$T/vf$n.ini"
    SPEC=$T/vf$n.ini
    write_config generic <<EOF
udev = no
[device 0000:05:00.0]
vfs = $n
pf_driver = keep
vfio = yes
EOF
    for who in mxgpud floor; do MS[$who]=; timed "$who" "run_$who"; echo "$n ${MS[$who]}" >>"$T/vfs.$who"; done
  done
  for who in mxgpud floor; do
    row "scaling over PFs (1-16 x 16 VFs): $who" "$(fit <"$T/pfs.$who"), n = PFs [$(awk '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $1, $2 }' "$T/pfs.$who")]" "-" "-"
  done
  for who in mxgpud floor; do
    row "scaling over VFs (1 PF, 16-256 VFs): $who" "$(fit <"$T/vfs.$who"), n = VFs [$(awk '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $1, $2 }' "$T/vfs.$who")]" "-" "-"
  done
fi

# --- 2. the real kernel (QEMU, TCG) ---
if [ "${BENCH_VM:-1}" = 1 ]; then
  echo "bench: real kernel in QEMU (slow: TCG)" >&2
  vm_rc=0
  BUILD=$B "$SRC/bench/vm-bench.sh" >"$T/vm.out" 2>"$T/vm.err" || vm_rc=$?
  # The rows measured before a failure stay; make bench then fails: a missing row is not a result.
  while IFS=$'\t' read -r what fig tgt verdict; do row "$what" "$fig" "$tgt" "$verdict"; done <"$T/vm.out"
  if [ $vm_rc -ne 0 ]; then
    row "real kernel (QEMU): the rows after these" "not measured: $(tail -n 1 "$T/vm.err")" "-" "-"
    VM_FAILED=1
  fi
fi

# --- the table (also printed when a later step fails, with the rows measured so far) ---
echo "bench: machine: $(nproc) cores, $(uname -r), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" >&2
print_table
trap - EXIT
(cleanup) # in a subshell: cleanup exits
[ -z "${VM_FAILED:-}" ] || { echo "bench: the real-kernel rows could not be measured (BENCH_VM=0 leaves them out)" >&2; exit 1; }
