# SPDX-License-Identifier: MIT
# Every kind of invalid config gets a message naming file:line, key, value and what is allowed,
# and changes nothing on the simulated host (checked in the simulator's own view).
source "$(dirname "$0")/../lib.sh"
need_root
sim_start s7150x2+mi300x+nvme
before=$(status)

n=0
# check NAME EXPECTED_REGEX <<CONFIG (lines of CONFIG start at line 4: lib.sh writes a [daemon] header)
check() {
  local name=$1 want=$2
  write_config "$name"
  n=$((n + 1))
  local rc=0
  "$MXGPUD" --root "$R" --config "$CONF" --check-config >"$T/check.out" 2>"$T/check.err" || rc=$?
  assert_eq "$rc" 2 "$name: --check-config exit status"
  grep -Eq -- "$want" "$T/check.err" || fail "$name: expected /$want/ in: $(cat "$T/check.err")"
  rc=0
  "$MXGPUD" --root "$R" --config "$CONF" --once >"$T/once.log" 2>&1 || rc=$?
  assert_eq "$rc" 2 "$name: --once exit status"
  grep -Eq -- "$want" "$T/once.log" || fail "$name: --once did not report /$want/: $(cat "$T/once.log")"
  [ "$(status)" = "$before" ] || fail "$name: the simulated host changed"
}

# vf_slices PF MS...: a [vf] section for VF 0, 1, ... of PF, each with the next time slice in ms
vf_slices() {
  local pf=$1 i=0 ms
  shift
  for ms; do printf '[vf %s %d]\ntime_slice = %sms\n' "$pf" "$i" "$ms"; i=$((i + 1)); done
}

f='[^ ]*/'
check too-small "${f}too-small.conf:5: vf_memory = 100M: .*at least 256" <<'C'
[gpu *]
vf_memory = 100M
C
check unaligned "${f}unaligned.conf:5: vf_memory = 300M: .*16" <<'C'
[gpu *]
vf_memory = 300M
C
check bad-unit "${f}bad-unit.conf:5: vf_memory = 2X: " <<'C'
[gpu *]
vf_memory = 2X
C
check bare-number "${f}bare-number.conf:5: vf_memory = 2048: .*(unit|M|G)" <<'C'
[gpu *]
vf_memory = 2048
C
check too-many-vfs "${f}too-many-vfs.conf:5: vfs = 17: .*16" <<'C'
[gpu s7150]
vfs = 17
C
check memory-total "${f}memory-total.conf:[0-9]+: vf_memory = 1G: .*(fit|MiB)" <<'C'
[gpu s7150]
vfs = 16
vf_memory = 1G
C
check mi300x-count "${f}mi300x-count.conf:5: vfs = 4: .*(1 or 8|1, 8)" <<'C'
[gpu mi300x]
vfs = 4
C
check slice-zero "${f}slice-zero.conf:5: time_slice = 0ms: .*1" <<'C'
[gpu *]
time_slice = 0ms
C
check slice-high "${f}slice-high.conf:5: time_slice = 256ms: .*255" <<'C'
[gpu *]
time_slice = 256ms
C
check slice-fraction "${f}slice-fraction.conf:5: time_slice = 1500us: .*(whole|ms)" <<'C'
[gpu *]
time_slice = 1500us
C
check five-quanta "${f}five-quanta.conf:[0-9]+: time_slice = .*(four|4)" < <(
  printf '[gpu 0000:03:00.0]\nvfs = 5\n'; vf_slices 0000:03:00.0 1 2 3 4 5)
check scheduler-word "${f}scheduler-word.conf:5: scheduler = fast: .*solid.*liquid" <<'C'
[gpu *]
scheduler = fast
C
# A policy the PF's card does not run (hardware.md 5), named with the card and what it runs.
check mi300x-policy "${f}mi300x-policy.conf:6: scheduler = solid: AMD Instinct MI300X \(0000:07:00.0\) does not run the solid scheduler: use fairness or round_robin" <<'C'
[gpu mi300x]
vfs = 8
scheduler = solid
C
check tonga-policy "${f}tonga-policy.conf:5: scheduler = liquid: .*S7150.*\(0000:03:00.0\) does not run the liquid scheduler: use solid \(the Tonga layout has no command" <<'C'
[gpu s7150]
scheduler = liquid
C
check hybrid "${f}hybrid.conf:5: scheduler = hybrid: no supported card runs GIM8's hybrid policy" <<'C'
[gpu *]
scheduler = hybrid
C
check pf-driver "${f}pf-driver.conf:5: pf_driver = amdgpu: .*pci-pf-stub" <<'C'
[gpu *]
pf_driver = amdgpu
C
check boolean "${f}boolean.conf:5: vfio = maybe: .*(yes|no)" <<'C'
[gpu *]
vfio = maybe
C
check unknown-key "${f}unknown-key.conf:5: colour" <<'C'
[gpu *]
colour = red
C
check unknown-section "${f}unknown-section.conf:4: .*cpu" <<'C'
[cpu *]
vfs = 2
C
check bad-address "${f}bad-address.conf:4: .*0000:3:00.0" <<'C'
[gpu 0000:3:00.0]
vfs = 2
C
check vf-index "${f}vf-index.conf:[0-9]+: .*(index|VF 5).*" <<'C'
[gpu 0000:03:00.0]
vfs = 4
[vf 0000:03:00.0 5]
time_slice = 12ms
C
check pf-reserve "${f}pf-reserve.conf:5: pf_reserve = 8G: " <<'C'
[gpu mi300x]
pf_reserve = 8G
C
check negative "${f}negative.conf:5: vfs = -1: " <<'C'
[gpu *]
vfs = -1
C
check device-on-gpu "${f}device-on-gpu.conf:4: .*device" <<'C'
[device 0000:03:00.0]
vfs = 2
C
check all-problems "all-problems.conf:5: vf_memory = 100M.*" <<'C'
[gpu *]
vf_memory = 100M
time_slice = 999ms
C
grep -q "time_slice = 999ms" "$T/check.err" || fail "all-problems: only the first problem was reported"
# a problem that comes from a setting and defaults: the setting's line, and every default named
check pf-reserve-blamed "${f}pf-reserve-blamed.conf:5: pf_reserve = 4G: 16 VFs need at least 4 GiB.*vfs = 16 \(default" <<'C'
[gpu 0000:03:00.0]
pf_reserve = 4G
C
check fifth-default "${f}fifth-default.conf:13: time_slice = 4ms: VF 4 brings a fifth.*6ms \(default\) for VF 4-7" < <(
  printf '[gpu 0000:03:00.0]\nvfs = 8\n'; vf_slices 0000:03:00.0 1 2 3 4)
# independent problems of one card, and a refused value that does not hide the card's checks
check both-reported "${f}both-reported.conf:5: vfs = 17: " <<'C'
[gpu s7150]
vfs = 17
pf_reserve = 5G
C
grep -q "both-reported.conf:6: pf_reserve = 5G: out of range" "$T/check.err" || fail "both-reported: $(cat "$T/check.err")"
check typo-and-layout "${f}typo-and-layout.conf:5: scheduler = fast: " <<'C'
[gpu s7150]
scheduler = fast
vfs = 4
vf_memory = 4G
C
grep -q "typo-and-layout.conf:7: vf_memory = 4G: 4 VFs need at least 16 GiB" "$T/check.err" ||
  fail "typo-and-layout: the card's check did not run: $(cat "$T/check.err")"
check colon "${f}colon.conf:5: vfs: .*write key = value" <<'C'
[gpu s7150]
vfs: 2
C
check line-too-long "${f}line-too-long.conf:5: pool: the line is 199 characters long; at most 198" <<C
[gpu s7150]
pool = $(printf '%0192d' 0)
C
# bytes a terminal would act on are escaped, never echoed
check escape "${f}escape.conf:5: a control character \(0x1b\)" <<'C'
[gpu s7150]
pool = ]0;pwnedx
C
if grep -q $'\x1b' "$T/check.err" "$T/once.log"; then fail "escape: a raw ESC reached the output"; fi
# no config at all: said once, with what to do (the loader and the daemon each said it before)
rc=0
"$MXGPUD" --root "$R" --config "$T/none.conf" --once >"$T/once.log" 2>&1 || rc=$?
assert_eq "$rc" 2 "missing config: --once exit status"
grep -q "none.conf: cannot open: no such file, and no drop-in file in .*none.conf.d either: write a config, see mxgpu.conf(5)" \
  "$T/once.log" || fail "missing config: $(cat "$T/once.log")"
assert_eq "$(grep -c "none.conf: .*no such file" "$T/once.log")" 1 "missing config: lines saying so"
grep -q "none.conf: no config to apply; nothing was changed" "$T/once.log" || fail "missing config: $(cat "$T/once.log")"
[ "$(status)" = "$before" ] || fail "missing config: the simulated host changed"
# a --config-dir that is missing or not a directory, a --config that is a directory
write_config fine <<'C'
[gpu s7150]
vfs = 2 # two
[gpu mi300x]
vfs = 8
C
# (named with --config-dir, even FILE.d must exist; left implicit, it may be missing)
for d in "$T/nothere" "$CONF" "$CONF.d"; do
  rc=0; "$MXGPUD" --root "$R" --config "$CONF" --config-dir "$d" --check-config >/dev/null 2>"$T/cd.err" || rc=$?
  assert_eq "$rc" 2 "--config-dir $d"
  grep -Eq "^$d: (no such directory|not a directory): the drop-in folder must be a directory" "$T/cd.err" || fail "--config-dir $d: $(cat "$T/cd.err")"
done
rc=0; "$MXGPUD" --root "$R" --config "$T" --check-config >/dev/null 2>"$T/cd.err" || rc=$?
assert_eq "$rc" 2 "--config DIR"
grep -q "^$T: is a directory" "$T/cd.err" || fail "--config DIR: $(cat "$T/cd.err")"
# a trailing comment is a comment; sections that match nothing are warnings, not errors
cat >>"$CONF" <<'C'
[gpu 0000:99:00.0]
[gpu 0000:04:00.0]
enabled = no
[vf 0000:04:00.0 20]
time_slice = 2ms
[vf 0000:0b:00.0 1]
time_slice = 2ms
[device 0000:0b:00.0]
vfs = 2
[gpu v710]
C
"$MXGPUD" --root "$R" --config "$CONF" --check-config >"$T/ok.out" 2>"$T/ok.err" || fail "warnings only: $(cat "$T/ok.err")"
grep -q "0000:03:00.0: would change" "$T/ok.out" || fail "vfs = 2 # two: $(cat "$T/ok.out")"
grep -q "fine.conf:8: warning: \[gpu 0000:99:00.0\] matches no PF" "$T/ok.err" || fail "unmatched [gpu]: $(cat "$T/ok.err")"
grep -q "fine.conf:11: warning: \[vf 0000:04:00.0 20\]: the PF 0000:04:00.0 is not managed" "$T/ok.err" || fail "[vf] of an unmanaged PF: $(cat "$T/ok.err")"
grep -q "fine.conf:13: warning: \[vf 0000:0b:00.0 1\]: .*generic SR-IOV device" "$T/ok.err" || fail "[vf] of a [device]: $(cat "$T/ok.err")"
grep -q "fine.conf:17: warning: \[gpu v710\] matches no PF" "$T/ok.err" || fail "[gpu v710]: $(cat "$T/ok.err")"
assert_eq "$(grep -c warning: "$T/ok.err")" 4 "warnings"
[ "$(status)" = "$before" ] || fail "--check-config changed the simulated host"
[ "$n" -ge 15 ] || fail "only $n invalid configs checked"
echo "$n kinds of invalid config refused with file:line, nothing changed"
