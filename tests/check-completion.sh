#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The shell completions of memcap complete commands, subcommands, options and signal names, in
# bash (COMP_WORDS and the completion function, as bash calls it), fish (complete -C) and zsh
# (TAB in an interactive zsh in a pty: check-completion-zsh.py), with the memcap that was built
# first on PATH. A shell that is not installed is skipped. Prints TAP.
# Usage: check-completion.sh COMPLETION_DIR MEMCAP_DIR
set -u
dir=$1
export PATH="$2:$PATH"
n=0
failed=0
out=()

check() { # check "what" expected-word got-words...
        local what=$1 want=$2
        shift 2
        n=$((n + 1))
        if printf '%s\n' "$@" | grep -qx -- "$want"; then
                out+=("ok $n - $what")
        else
                failed=1
                out+=("not ok $n - $what: no '$want' in: $*")
        fi
}

skip() {
        n=$((n + 1))
        out+=("ok $n - $1 # SKIP $2")
}

# bash: what the completion function offers for the words typed so far (the last is partial).
bash_complete() {
        bash -c '
                source "$1"
                shift
                COMP_WORDS=("$@")
                COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                COMP_LINE="$*"
                COMP_POINT=${#COMP_LINE}
                _memcap
                printf "%s\n" "${COMPREPLY[@]}"
        ' _ "$dir/memcap.bash" "$@"
}

check "bash: the commands" signal $(bash_complete memcap "")
check "bash: commands by prefix" shm $(bash_complete memcap sh)
check "bash: after a global option" audit $(bash_complete memcap --policy p.json au)
check "bash: signal's subcommands" list $(bash_complete memcap signal "")
check "bash: signal names for wait" TERM $(bash_complete memcap signal wait TE)
check "bash: signal names with SIG" SIGUSR1 $(bash_complete memcap signal wait SIGUS)
check "bash: realtime signal names" RTMIN+1 $(bash_complete memcap signal list RTMIN+)
check "bash: the signal after send's pid" SIGHUP $(bash_complete memcap signal send 1 SIGH)
check "bash: client verbs" session $(bash_complete memcap client ses)
check "bash: audit options" --follow $(bash_complete memcap audit log --fo)
check "bash: maps -x" --extended $(bash_complete memcap maps --ext)
check "bash: complete -p names the function" "complete -F _memcap memcap" \
        "$(bash -c 'source "$1"; complete -p memcap' _ "$dir/memcap.bash")"

if command -v fish >/dev/null 2>&1; then
        fish_complete() {
                fish --no-config -c "source '$dir/memcap.fish'; complete -C '$1'" 2>/dev/null | cut -f1
        }
        check "fish: the commands" signal $(fish_complete "memcap ")
        check "fish: signal's subcommands" wait $(fish_complete "memcap signal ")
        check "fish: signal names" TERM $(fish_complete "memcap signal wait TE")
        check "fish: client verbs" hello $(fish_complete "memcap client he")
else
        skip "fish completion" "fish is not installed"
fi

if command -v zsh >/dev/null 2>&1; then
        n=$((n + 1))
        if zsh -n "$dir/_memcap" 2>/dev/null; then
                out+=("ok $n - zsh: the completion parses")
        else
                failed=1
                out+=("not ok $n - zsh: the completion does not parse")
        fi
        # As zsh runs it: in the line editor of an interactive zsh, in a pty.
        while IFS= read -r line; do
                n=$((n + 1))
                case $line in
                ok*) out+=("ok $n${line#ok}") ;;
                *) failed=1; out+=("not ok $n${line#not ok}") ;;
                esac
        done < <(python3 "$(dirname "$0")/check-completion-zsh.py" "$dir" "$2" </dev/null 2>&1)
else
        skip "zsh completion parses" "zsh is not installed"
fi

echo "TAP version 13"
echo "1..$n"
printf '%s\n' "${out[@]}"
exit $failed
