# bash completion for memcap(1): commands, their subcommands and options, signal names (from
# `memcap signal list`, so they are this system's), shared memory names and files.
# SPDX-License-Identifier: MIT

# The signal names of this system, with and without "SIG": TERM SIGTERM RTMIN+1 ...
_memcap_signals() {
        local n
        for n in $(memcap signal list 2>/dev/null | awk 'NR > 1 && $2 ~ /^SIG/ { print $2 }'); do
                printf '%s\n%s\n' "$n" "${n#SIG}"
        done
}

_memcap() {
        local cur prev words cword
        if declare -F _init_completion >/dev/null; then
                _init_completion || return
        else
                cur=${COMP_WORDS[COMP_CWORD]}
                prev=${COMP_WORDS[COMP_CWORD - 1]}
                words=("${COMP_WORDS[@]}")
                cword=$COMP_CWORD
        fi

        local commands="maps map shm policy audit signal client help"
        local i cmd="" sub="" cmd_at=0
        # The command is the first word that is not a global option or its argument.
        for ((i = 1; i < cword; i++)); do
                case ${words[i]} in
                --policy | --audit) ((i++)) ;;
                -*) ;;
                *)
                        if [[ -z $cmd ]]; then
                                cmd=${words[i]}
                                cmd_at=$i
                        elif [[ -z $sub ]]; then
                                sub=${words[i]}
                        fi
                        ;;
                esac
        done

        case $prev in
        --policy | --audit)
                COMPREPLY=($(compgen -f -- "$cur"))
                return
                ;;
        esac

        if [[ -z $cmd ]]; then
                COMPREPLY=($(compgen -W "$commands --policy --audit --help --version" -- "$cur"))
                return
        fi

        case $cmd in
        maps)
                COMPREPLY=($(compgen -W "-x --extended --json --help self" -- "$cur"))
                ;;
        map)
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "--offset --length --raw --json -v --help" -- "$cur"))
                else
                        COMPREPLY=($(compgen -f -- "$cur"))
                fi
                ;;
        shm)
                if [[ -z $sub ]]; then
                        COMPREPLY=($(compgen -W "create ls info rm --help" -- "$cur"))
                elif [[ $sub == info || $sub == rm ]] && [[ $cur != -* ]]; then
                        COMPREPLY=($(compgen -W "$(ls /dev/shm 2>/dev/null)" -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "--size --mode --json --help" -- "$cur"))
                fi
                ;;
        policy)
                if [[ -z $sub ]]; then
                        COMPREPLY=($(compgen -W "check default --help" -- "$cur"))
                else
                        COMPREPLY=($(compgen -f -- "$cur"))
                fi
                ;;
        audit)
                case $prev in
                --outcome) COMPREPLY=($(compgen -W "ok denied error" -- "$cur")) ;;
                --capability) COMPREPLY=($(compgen -W "core.memory core.signal" -- "$cur")) ;;
                --kind)
                        COMPREPLY=($(compgen -W "Ok PermissionDenied InvalidArgument OutOfMemory
                                AlignmentError AlreadyExists NotFound Unsupported PolicyViolation
                                TimedOut InvalidSignal Io" -- "$cur"))
                        ;;
                --op | --pid | --since | --until) ;;
                *)
                        if [[ $cur == -* ]]; then
                                COMPREPLY=($(compgen -W "--op --outcome --capability --pid --kind
                                        --since --until --follow --json --help" -- "$cur"))
                        else
                                COMPREPLY=($(compgen -f -- "$cur"))
                        fi
                        ;;
                esac
                ;;
        signal)
                if [[ -z $sub ]]; then
                        COMPREPLY=($(compgen -W "send wait list --help" -- "$cur"))
                elif [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "--value --pidfd --timeout --ready-fd --json --help" -- "$cur"))
                else
                        # send PID SIGNAL: the pid first; wait and list take signals.
                        local operands=0
                        for ((i = cmd_at + 2; i < cword; i++)); do
                                [[ ${words[i]} != -* ]] && ((operands++))
                        done
                        if [[ $sub == send && $operands -eq 0 ]]; then
                                COMPREPLY=($(compgen -W "$(ps -eo pid= 2>/dev/null)" -- "$cur"))
                        else
                                COMPREPLY=($(compgen -W "$(_memcap_signals)" -- "$cur"))
                        fi
                fi
                ;;
        client)
                local verbs="hello mmap read write sync unmap protect advise lock unlock stats list
                        fd session raw help"
                case $prev in
                --socket | -s) COMPREPLY=($(compgen -f -- "$cur")) ;;
                --prot) COMPREPLY=($(compgen -W "r rw rx rwx" -- "$cur")) ;;
                *)
                        if [[ -z $sub ]]; then
                                COMPREPLY=($(compgen -W "$verbs --socket --json --help" -- "$cur"))
                        elif [[ $sub == advise && $cur != -* ]]; then
                                COMPREPLY=($(compgen -W "normal random sequential willneed dontneed
                                        free cold populate_read populate_write" -- "$cur"))
                        else
                                COMPREPLY=($(compgen -W "--socket --json --offset --length --prot
                                        --shared --raw --hex --data --file --all --echo
                                        --keep-going --help" -- "$cur"))
                        fi
                        ;;
                esac
                ;;
        help)
                COMPREPLY=($(compgen -W "$commands" -- "$cur"))
                ;;
        esac
}
complete -F _memcap memcap
