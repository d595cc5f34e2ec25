# SPDX-License-Identifier: MIT
# The bash completion offers every verb of the command table and each verb's options (each once), and
# from the daemon at the --socket of the command line: PFs or VFs as each verb takes, pools and domains.
source "$(dirname "$0")/../lib.sh"
PATH=$B:$PATH
source "$SRC/completion/mxgpuctl.bash"
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _mxgpuctl; echo "${COMPREPLY[*]}"; }
verbs=$(mxgpuctl --help | awk '/^Verbs:/ {on = 1; next} /^$/ {on = 0} on && /^  [^ ]/ {print $1}')
[ "$(wc -w <<<"$verbs")" -ge 11 ] || fail "verb list: $verbs"
got=$(complete_words mxgpuctl "")
for v in $verbs; do [[ " $got " == *" $v "* ]] || fail "verb $v not completed: $got"; done
assert_eq "$(complete_words mxgpuctl re)" "reload resize" "verbs starting with re"
got=$(complete_words mxgpuctl resize 03:02.0 --)
for o in --memory --time-slice --dry-run --persist --json; do [[ " $got " == *" $o "* ]] || fail "resize option $o: $got"; done
got=$(complete_words mxgpuctl set-vfs --)
[[ " $got " == *" --persist "* && " $got " == *" --dry-run "* ]] || fail "set-vfs options: $got"
[[ " $(complete_words mxgpuctl doctor --) " == *" --libvirt-socket "* ]] || fail "doctor options"
# Each option once, though the verb's help and the global options both name --root and --json.
for v in $verbs; do
  got=$(complete_words mxgpuctl "$v" --)
  [ -z "$(tr ' ' '\n' <<<"$got" | sort | uniq -d)" ] || fail "$v offers an option twice: $got"
done
got=$(complete_words mxgpuctl attach web --)
for o in --pool --memory-min --vf --live --config; do [[ " $got " == *" $o "* ]] || fail "attach option $o: $got"; done

# Addresses, pools and domains come from the daemon at the --socket on the command line.
need_root
sim_start s7150
write_config comp <<'C'
[gpu *]
vfs = 2
C
daemon_start
unset MXGPU_SOCKET
pf=0000:03:00.0 vfs="0000:03:02.0 0000:03:02.1"
assert_eq "$(complete_words mxgpuctl --socket "$SOCK" resize "")" "$vfs" "resize takes a VF"
assert_eq "$(complete_words mxgpuctl --socket="$SOCK" set-vfs "")" "$pf" "set-vfs takes a PF"
assert_eq "$(complete_words mxgpuctl show --socket "$SOCK" "")" "$pf $vfs" "show takes either"
assert_eq "$(complete_words mxgpuctl --socket "$SOCK" resize 03:02.1 "")" "" "resize takes one VF"
assert_eq "$(complete_words mxgpuctl --socket "$SOCK" set-vfs 03:00.0 "")" "" "no address for set-vfs's count"
assert_eq "$(complete_words mxgpuctl --socket "$SOCK" resize 0000:03:02.)" "$vfs" "a VF by its prefix"
# No daemon there: nothing, not the host's own PCI devices.
assert_eq "$(complete_words mxgpuctl --socket "$T/nothing.sock" resize "")" "" "no daemon at --socket"
assert_eq "$(complete_words mxgpuctl --socket "$SOCK" pool "")" "default" "pool names"
assert_eq "$(complete_words mxgpuctl --socket "$SOCK" attach web --pool "")" "default" "attach --pool"
assert_eq "$(complete_words mxgpuctl --socket "$SOCK" attach web --vf "")" "$vfs" "attach --vf: the free VFs"
# detach: the domains that have VFs, then that domain's VFs (a pool reply with an assignment).
ctl --json pool | jq '.pools[0].vfs[1] += {state: "assigned", domain: "web01"}' >"$T/pool.json"
mkdir -p "$T/bin"
printf '#!/bin/bash\n[[ " $* " == *" pool --json "* ]] && exec cat %q\nexec %q "$@"\n' "$T/pool.json" "$B/mxgpuctl" >"$T/bin/mxgpuctl"
chmod +x "$T/bin/mxgpuctl"
PATH=$T/bin:$PATH
assert_eq "$(complete_words mxgpuctl --socket "$SOCK" detach "")" "web01" "detach's domains"
assert_eq "$(complete_words mxgpuctl --socket "$SOCK" detach web01 "")" "0000:03:02.1" "detach's VF of web01"
assert_eq "$(complete_words mxgpuctl --socket "$SOCK" attach web --vf "")" "0000:03:02.0" "attach --vf: an assigned VF is not offered"
echo "completion: every verb and its options once; addresses by PF or VF, pools and domains from the daemon at --socket"
