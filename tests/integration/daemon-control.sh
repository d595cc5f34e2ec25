# SPDX-License-Identifier: MIT
# The control socket under abuse and with several users: malformed, oversized, unknown-method and
# wrong-version requests get errors while the daemon keeps serving; a member of the read group may
# list but not resize; every verb answers in both output forms.
source "$(dirname "$0")/../lib.sh"
need_root
RAW=$B/tools/ctl-raw
sim_start s7150
write_config ctl <<'C'
[daemon]
socket_group = nogroup
[gpu *]
vfs = 2
C
daemon_start
raw() { "$RAW" send "$SOCK" "$@"; }

# Not JSON: ProtocolError, then the connection is closed.
out=$(raw '{"method":')
grep -q '"error":"io.mxgpu.Manager.ProtocolError"' <<<"$out" && grep -q '^EOF$' <<<"$out" || fail "not JSON: $out"
# JSON but not a request: ProtocolError (EPROTO).
out=$(raw '{"method":"io.mxgpu.Manager.List","id":1}')
grep -q '"error":"io.mxgpu.Manager.ProtocolError".*"errno":71' <<<"$out" || fail "not a request: $out"
# Longer than 64 KiB without a NUL: MessageTooLarge, connection closed.
out=$(raw @big:70000)
grep -q '"error":"io.mxgpu.Manager.MessageTooLarge"' <<<"$out" && grep -q '^EOF$' <<<"$out" || fail "oversized: $out"
# Unknown method, unknown interface version, bad parameters: errors on a connection that stays usable.
out=$(raw '{"method":"io.mxgpu.Manager.Frobnicate"}' '{"method":"io.mxgpu.Manager2.List"}' \
          '{"method":"io.mxgpu.Manager.Resize","parameters":{"device":"0000:03:02.0","memory_mib":"1G"}}' \
          '{"method":"org.varlink.service.GetInfo"}')
grep -q 'org.varlink.service.MethodNotFound' <<<"$out" || fail "unknown method: $out"
grep -q 'org.varlink.service.InterfaceNotFound' <<<"$out" || fail "wrong interface version: $out"
grep -q 'org.varlink.service.InvalidParameter.*memory_mib' <<<"$out" || fail "wrongly typed parameter: $out"
grep -q '"product":"mxgpud"' <<<"$out" || fail "the same connection is served after errors: $out"
ctl ping >/dev/null || fail "the daemon stopped answering"

# Permissions: nobody in group nogroup may list, not resize or set-vfs.
chmod 755 "$T"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$MXGPUCTL" --socket "$SOCK" "$@"; }
as_nobody list --json | jq -e '.pfs[0].num_vfs == 2' >/dev/null || fail "a read-group member cannot list"
for verb in "resize 03:02.0 --memory 1G" "set-vfs 03:00.0 1"; do
  rc=0; as_nobody $verb 2>"$T/perm.err" || rc=$?
  assert_eq "$rc" 4 "exit status of $verb without root (it said: $(cat "$T/perm.err"))"
  grep -q "PermissionDenied" "$T/perm.err" || fail "permission refusal of $verb: $(cat "$T/perm.err")"
done
# Outside the read group: list and monitor are refused alike (exit 4, the error object under --json).
as_stranger() { setpriv --reuid=nobody --regid=daemon --clear-groups "$MXGPUCTL" --socket "$SOCK" "$@"; }
for verb in list monitor; do
  rc=0; as_stranger $verb >/dev/null 2>"$T/perm.err" || rc=$?
  assert_eq "$rc" 4 "exit status of $verb outside the read group (it said: $(cat "$T/perm.err"))"
  rc=0; as_stranger --json $verb >"$T/perm.json" 2>"$T/perm.err" || rc=$?
  assert_eq "$rc" 4 "exit status of --json $verb outside the read group (it said: $(cat "$T/perm.err"))"
  assert_eq "$(jq -r .error "$T/perm.json")" org.varlink.service.PermissionDenied "--json $verb outside the read group"
done
assert_eq "$(jqs '.pfs[0].numvfs')" 2 "refused calls changed nothing"

# Every verb in both forms: the JSON parses and has its documented members.
ctl list | grep -q "^0000:03:00.0  PF" || fail "list (human)"
ctl list --json | jq -e '.pfs[0] | has("override") and has("vfs") and has("memory")' >/dev/null || fail "list --json"
ctl show 03:02.1 | grep -q "03:02.1" || fail "show (human)"
ctl --json show 03:02.1 | jq -e '.vf.index == 1 and .parent == "0000:03:00.0"' >/dev/null || fail "show --json"
ctl plan >/dev/null && ctl --json plan | jq -e '.pfs | type == "array"' >/dev/null || fail "plan"
ctl apply >/dev/null && ctl --json apply | jq -e '.summary | type == "string"' >/dev/null || fail "apply"
ctl reload >/dev/null && ctl --json reload | jq -e '.pfs | type == "array"' >/dev/null || fail "reload"
ctl ping | grep -q mxgpud || fail "ping (human)"
ctl --json ping | jq -e 'has("version")' >/dev/null || fail "ping --json"
ctl --json version | jq -e '.protocol == 1' >/dev/null || fail "version --json"
ctl --json resize 03:02.1 --memory 512M --dry-run | jq -e '.dry_run and (.moves | type == "array")' >/dev/null || fail "resize --json"
ctl --json set-vfs 03:00.0 1 --dry-run | jq -e '.dry_run and .num_vfs == 1' >/dev/null || fail "set-vfs --json"
"$MXGPUCTL" --root "$R" --json doctor | jq -e '.checks | length > 0' >/dev/null || fail "doctor --json"
echo "control socket: bad requests refused while serving, read group lists only, every verb in both forms"
