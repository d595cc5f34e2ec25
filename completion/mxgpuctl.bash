# SPDX-License-Identifier: MIT
# Bash completion for mxgpuctl. Verbs and options come from `mxgpuctl --help` and the usage line of
# `mxgpuctl VERB --help`, so they always match the command table; PCI addresses, pools and domains come
# from the daemon (`mxgpuctl list --json`, `mxgpuctl pool --json`) at the --socket given on the command
# line, never from the host's sysfs: a verb that takes them needs the daemon anyway.

# _mxgpuctl_json_pick DEPTH KEY [FILTER_KEY FILTER_VALUE]: the string values of KEY in the objects that
# mxgpuctl's JSON on stdin nests DEPTH levels deep ({ and [ both count); with a filter, only of the
# objects whose FILTER_KEY is FILTER_VALUE. Nesting is counted, not guessed from indentation.
_mxgpuctl_json_pick() {
    awk -v depth="$1" -v key="$2" -v fkey="${3:-}" -v fval="${4:-}" '
        function flush() { if (val != "" && (fkey == "" || fv == fval)) print val; val = ""; fv = "" }
        {
            if (d == depth && match($0, /^ *"[^"]*": "/)) {
                k = $0; sub(/^ *"/, "", k); sub(/".*/, "", k)
                v = $0; sub(/^ *"[^"]*": "/, "", v); sub(/",?$/, "", v)
                if (k == key) val = v
                if (k == fkey) fv = v
            }
            s = $0; gsub(/"([^"\\]|\\.)*"/, "", s)
            n = split(s, ch, "")
            for (i = 1; i <= n; i++) {
                if (ch[i] == "{" || ch[i] == "[") d++
                else if (ch[i] == "}" || ch[i] == "]") { if (d == depth) flush(); d-- }
            }
        }'
}

_mxgpuctl() {
    local cur prev words cword
    _init_completion -n = 2>/dev/null || { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
    local global="--socket --root --json --help --version"
    # The daemon and root given on the command line, for the inner calls; the verb and its arguments so far.
    local ctl=(mxgpuctl) verb="" i dashdash=""
    local -a args=()
    for ((i = 1; i < cword; i++)); do
        if [[ -n $dashdash ]]; then
            [[ -z $verb ]] && verb=${words[i]} || args+=("${words[i]}")
            continue
        fi
        case ${words[i]} in
            --socket|--root) ctl+=("${words[i]}" "${words[i+1]}"); ((i++)) ;;
            --socket=*|--root=*) ctl+=("${words[i]}") ;;
            --pool|--vf|--memory|--memory-min|--time-slice|--libvirt-socket) ((i++)) ;;
            --) dashdash=1 ;;
            -*) ;;
            *) [[ -z $verb ]] && verb=${words[i]} || args+=("${words[i]}") ;;
        esac
    done
    local pfs='_mxgpuctl_json_pick 3 address' vfs='_mxgpuctl_json_pick 5 address'
    case $prev in
        --socket|--libvirt-socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --root) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --memory|--memory-min) COMPREPLY=($(compgen -W "256M 512M 1G 2G 4G 8G" -- "$cur")); return ;;
        --time-slice) COMPREPLY=($(compgen -W "1ms 3ms 6ms 10ms 20ms" -- "$cur")); return ;;
        --pool) COMPREPLY=($(compgen -W "$("${ctl[@]}" pool --json 2>/dev/null | _mxgpuctl_json_pick 3 name)" -- "$cur")); return ;;
        --vf) COMPREPLY=($(compgen -W "$("${ctl[@]}" pool --json 2>/dev/null | _mxgpuctl_json_pick 5 address state free)" -- "$cur"))
              return ;;
    esac
    case $cur in
        --socket=*|--libvirt-socket=*) COMPREPLY=($(compgen -P "${cur%%=*}=" -f -- "${cur#*=}")); return ;;
        --root=*) COMPREPLY=($(compgen -P "--root=" -d -- "${cur#*=}")); return ;;
    esac
    if [[ -z $verb ]]; then
        local verbs
        verbs=$(mxgpuctl --help 2>/dev/null | awk '/^Verbs:/ {on = 1; next} /^$/ {on = 0} on && /^  [^ ]/ {print $1}')
        COMPREPLY=($(compgen -W "$verbs $global" -- "$cur"))
        return
    fi
    if [[ $cur == -* && -z $dashdash ]]; then
        # The verb's own options are on its usage line; each option once.
        local opts
        opts=$( { mxgpuctl "$verb" --help 2>/dev/null | sed -n 's/^Usage: mxgpuctl \[OPTIONS\] //p' | grep -o -- '--[a-z-]*'
                  printf '%s\n' $global; } | sort -u)
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    local n=${#args[@]} cand="" list=""
    # show takes a PF or a VF, resize a VF, set-vfs a PF.
    [[ $n -eq 0 && $verb =~ ^(show|resize|set-vfs)$ ]] && list=$("${ctl[@]}" list --json 2>/dev/null)
    case $verb in
        show) [[ $n -eq 0 ]] && cand="$($pfs <<<"$list") $($vfs <<<"$list")" ;;
        resize) [[ $n -eq 0 ]] && cand=$($vfs <<<"$list") ;;
        set-vfs) [[ $n -eq 0 ]] && cand=$($pfs <<<"$list") ;;
        pool) [[ $n -eq 0 ]] && cand=$("${ctl[@]}" pool --json 2>/dev/null | _mxgpuctl_json_pick 3 name) ;;
        detach)
            # The domains that have VFs, then the VFs of the domain given.
            if [[ $n -eq 0 ]]; then
                cand=$("${ctl[@]}" pool --json 2>/dev/null | _mxgpuctl_json_pick 5 domain | sort -u)
            elif [[ $n -eq 1 ]]; then
                cand=$("${ctl[@]}" pool --json 2>/dev/null | _mxgpuctl_json_pick 5 address domain "${args[0]}")
            fi ;;
    esac
    COMPREPLY=($(compgen -W "$cand" -- "$cur"))
}
complete -F _mxgpuctl mxgpuctl
