# SPDX-License-Identifier: MIT
# Every reply mxgpud sends has the shape its own IDL (GetInterfaceDescription) declares: no field the
# IDL lacks, no declared field missing unless optional, every value of its declared type and enum.
# GPU PFs and an NVMe PF (no GPU-IOV registers: the optional VF fields are null), a live override,
# a dry run and a real change of each kind, and the Monitor stream. Attach and Detach need a
# libvirtd: tests/libvirt/libvirtd.sh checks theirs.
source "$(dirname "$0")/../lib.sh"
need_root
RAW=$B/tools/ctl-raw

sim_start 's7150x2+nvme'
write_config schema <<'EOF'
udev = no
[gpu *]
vfs = 2
[device 0000:07:00.0]
vfs = 2
pf_driver = keep
vfio = yes
EOF
daemon_start

# raw MSG...: one connection, the messages in order; the replies' "parameters", one per line (an
# error as it came)
raw() { CTL_RAW_EXPECT=$# "$RAW" send "$SOCK" "$@" | grep '^{' | jq -c 'if .error then . else .parameters end'; }
source "$SRC/tests/idl.sh"
VF=$(jqs '.pfs[0].vfs[1].address')
NVF=$(jqs '.pfs[] | select(.address == "0000:07:00.0") | .vfs[0].address')
call() { printf '{"method":"io.mxgpu.Manager.%s","parameters":%s}' "$1" "${2:-{\}}"; }

# A live override first, so that List and Show carry one. Then every read and dry run in one batch.
ctl resize "$VF" --memory 1G >/dev/null || fail "resize"
raw "$(call List)" "$(call Show '{"device":"0000:03:00.0"}')" "$(call Show "{\"device\":\"$VF\"}")" \
  "$(call Show '{"device":"0000:07:00.0"}')" "$(call Show "{\"device\":\"$NVF\"}")" "$(call Plan)" \
  "$(call Apply '{"dry_run":true}')" "$(call SetVFs '{"device":"0000:04:00.0","count":1,"dry_run":true}')" \
  "$(call Resize "{\"device\":\"$VF\",\"memory_mib\":512,\"time_slice_us\":12000,\"dry_run\":true}")" "$(call Pool)" \
  >"$T/reads"
idl_check "$SOCK" List Show Show Show Show Plan Apply SetVFs Resize Pool <"$T/reads"
raw '{"method":"org.varlink.service.GetInfo"}' | grep -q '"product":"mxgpud"' || fail "GetInfo"

# The Monitor stream: its first reply, then the events of a resize, a VF count change and a reload;
# beside it the real (not dry) replies of those calls.
"$RAW" send "$SOCK" '{"method":"io.mxgpu.Manager.Monitor","more":true}' >"$T/monitor.out" &
MON=$!
for _ in $(seq 50); do grep -q subscribed "$T/monitor.out" 2>/dev/null && break; sleep 0.05; done
raw "$(call Resize "{\"device\":\"$VF\",\"memory_mib\":512}")" "$(call SetVFs '{"device":"0000:04:00.0","count":1}')" \
  "$(call Apply)" "$(call Reload)" >"$T/changes"
idl_check "$SOCK" Resize SetVFs Apply Reload <"$T/changes"
wait "$MON" || true
grep '^{' "$T/monitor.out" | jq -c .parameters >"$T/events"
idl_check "$SOCK" Monitor <"$T/events"
for t in subscribed '"vf-resized"' '"vf-count-changed"' '"pf-state"'; do
  grep -q "$t" "$T/monitor.out" || fail "no $t in the Monitor stream: $(cat "$T/monitor.out")"
done

# Errors, with their parameters as declared: an unknown device, a bad address, a bad size, a VF count
# the card refuses (InvalidConfig for a live change), a config file with an error (with its line).
printf '[device 0000:07:00.0]\nvfs = banana\n' >"$T/broken.conf"
cp "$CONF" "$T/good.conf" && cat "$T/broken.conf" >>"$CONF"
raw "$(call Show '{"device":"0000:09:00.0"}')" "$(call Show '{"device":"zz"}')" \
  "$(call Resize "{\"device\":\"$VF\",\"memory_mib\":99999}")" "$(call SetVFs '{"device":"0000:03:00.0","count":99}')" \
  "$(call Reload)" >"$T/errors"
cp "$T/good.conf" "$CONF"
assert_eq "$(jq -r '.error | sub(".*[.]"; "")' "$T/errors" | tr '\n' ' ')" \
  "NoSuchDevice InvalidParameter InvalidParameter InvalidConfig InvalidConfig " "the errors"
jq -e 'select(.error | endswith("InvalidConfig")) | .parameters.problems[] | select(.line)' "$T/errors" >/dev/null ||
  fail "no problem with a line in the config's InvalidConfig: $(cat "$T/errors")"
idl_check "$SOCK" error <"$T/errors"
[ "$IDL_CHECKED" -ge 23 ] || fail "only $IDL_CHECKED replies checked"
echo "$IDL_CHECKED replies match the IDL"
