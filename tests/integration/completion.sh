# SPDX-License-Identifier: MIT
# The bash completion offers every verb of the command table and each verb's options.
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
echo "completion: every verb and its options"
