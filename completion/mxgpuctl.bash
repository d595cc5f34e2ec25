# SPDX-License-Identifier: MIT
# Bash completion for mxgpuctl. Verbs and options come from `mxgpuctl --help` and `mxgpuctl VERB --help`,
# so they always match the command table; PCI addresses come from `mxgpuctl list --json` when the daemon
# answers, else from sysfs.
_mxgpuctl() {
    local cur prev words cword
    _init_completion 2>/dev/null || { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
    local global="--socket --root --json --help --version"
    case $prev in
        --socket|--libvirt-socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --root) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --memory) COMPREPLY=($(compgen -W "256M 512M 1G 2G 4G 8G" -- "$cur")); return ;;
        --time-slice) COMPREPLY=($(compgen -W "1ms 3ms 6ms 10ms 20ms" -- "$cur")); return ;;
    esac
    local verb="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --socket|--root) ((i++)) ;;
            -*) ;;
            *) verb=${words[i]}; break ;;
        esac
    done
    if [[ -z $verb ]]; then
        local verbs
        verbs=$(mxgpuctl --help 2>/dev/null | awk '/^Verbs:/ {on = 1; next} /^$/ {on = 0} on && /^  [^ ]/ {print $1}')
        COMPREPLY=($(compgen -W "$verbs $global" -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        local opts
        opts=$(mxgpuctl "$verb" --help 2>/dev/null | grep -o -- '--[a-z-]*' | sort -u)
        COMPREPLY=($(compgen -W "$opts $global" -- "$cur"))
        return
    fi
    case $verb in
        show|resize|set-vfs)
            local addrs
            addrs=$(mxgpuctl list --json 2>/dev/null | sed -n 's/.*"address": "\([0-9a-f:.]*\)".*/\1/p')
            [[ -n $addrs ]] || addrs=$(ls /sys/bus/pci/devices 2>/dev/null)
            COMPREPLY=($(compgen -W "$addrs" -- "$cur")) ;;
    esac
}
complete -F _mxgpuctl mxgpuctl
