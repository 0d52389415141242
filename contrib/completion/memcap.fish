# fish completion for memcap(1): commands, subcommands, options and this system's signal names.
# SPDX-License-Identifier: MIT

set -l commands maps map shm policy audit signal client help

function __memcap_signals
    memcap signal list 2>/dev/null | awk 'NR > 1 && $2 ~ /^SIG/ { print $2; print substr($2, 4) }'
end

complete -c memcap -f
complete -c memcap -n "not __fish_seen_subcommand_from $commands" -l policy -r -F -d 'enforce the JSON policy in FILE'
complete -c memcap -n "not __fish_seen_subcommand_from $commands" -l audit -r -F -d 'append audit records to FILE'
complete -c memcap -n "not __fish_seen_subcommand_from $commands" -s h -l help -d 'show help'
complete -c memcap -n "not __fish_seen_subcommand_from $commands" -s V -l version -d 'show the version'
complete -c memcap -n "not __fish_seen_subcommand_from $commands" -a maps -d 'list the memory mappings of a process'
complete -c memcap -n "not __fish_seen_subcommand_from $commands" -a map -d 'map a file read-only and dump it'
complete -c memcap -n "not __fish_seen_subcommand_from $commands" -a shm -d 'POSIX shared memory'
complete -c memcap -n "not __fish_seen_subcommand_from $commands" -a policy -d 'check or print a policy'
complete -c memcap -n "not __fish_seen_subcommand_from $commands" -a audit -d 'read an audit log'
complete -c memcap -n "not __fish_seen_subcommand_from $commands" -a signal -d 'send, wait for and list signals'
complete -c memcap -n "not __fish_seen_subcommand_from $commands" -a client -d 'talk to memcapd'
complete -c memcap -n "not __fish_seen_subcommand_from $commands" -a help -d 'show help'

complete -c memcap -n "__fish_seen_subcommand_from maps" -s x -l extended -d 'RSS, PSS, dirty and swap of each mapping'
complete -c memcap -n "__fish_seen_subcommand_from maps" -l json -d 'print JSON'
complete -c memcap -n "__fish_seen_subcommand_from map" -F
complete -c memcap -n "__fish_seen_subcommand_from map" -l offset -r
complete -c memcap -n "__fish_seen_subcommand_from map" -l length -r
complete -c memcap -n "__fish_seen_subcommand_from map" -l raw
complete -c memcap -n "__fish_seen_subcommand_from map" -l json

complete -c memcap -n "__fish_seen_subcommand_from shm; and not __fish_seen_subcommand_from create ls info rm" -a 'create ls info rm'
complete -c memcap -n "__fish_seen_subcommand_from shm; and __fish_seen_subcommand_from info rm" -a '(ls /dev/shm 2>/dev/null)'
complete -c memcap -n "__fish_seen_subcommand_from policy; and not __fish_seen_subcommand_from check default" -a 'check default'
complete -c memcap -n "__fish_seen_subcommand_from policy; and __fish_seen_subcommand_from check" -F

complete -c memcap -n "__fish_seen_subcommand_from audit" -F
complete -c memcap -n "__fish_seen_subcommand_from audit" -l op -r
complete -c memcap -n "__fish_seen_subcommand_from audit" -l outcome -x -a 'ok denied error'
complete -c memcap -n "__fish_seen_subcommand_from audit" -l capability -x -a 'core.memory core.signal'
complete -c memcap -n "__fish_seen_subcommand_from audit" -l pid -r
complete -c memcap -n "__fish_seen_subcommand_from audit" -l kind -x -a 'Ok PermissionDenied InvalidArgument OutOfMemory AlignmentError AlreadyExists NotFound Unsupported PolicyViolation TimedOut InvalidSignal Io'
complete -c memcap -n "__fish_seen_subcommand_from audit" -l since -r
complete -c memcap -n "__fish_seen_subcommand_from audit" -l until -r
complete -c memcap -n "__fish_seen_subcommand_from audit" -s f -l follow -d 'wait for new records'
complete -c memcap -n "__fish_seen_subcommand_from audit" -l json

complete -c memcap -n "__fish_seen_subcommand_from signal; and not __fish_seen_subcommand_from send wait list" -a 'send wait list'
complete -c memcap -n "__fish_seen_subcommand_from signal; and __fish_seen_subcommand_from send wait list" -a '(__memcap_signals)'
complete -c memcap -n "__fish_seen_subcommand_from signal" -l value -r
complete -c memcap -n "__fish_seen_subcommand_from signal" -l pidfd
complete -c memcap -n "__fish_seen_subcommand_from signal" -l timeout -r
complete -c memcap -n "__fish_seen_subcommand_from signal" -l json

set -l verbs hello mmap read write sync unmap protect advise lock unlock stats list fd session raw help
complete -c memcap -n "__fish_seen_subcommand_from client; and not __fish_seen_subcommand_from $verbs" -a "$verbs"
complete -c memcap -n "__fish_seen_subcommand_from client" -s s -l socket -r -F
complete -c memcap -n "__fish_seen_subcommand_from client" -l json
complete -c memcap -n "__fish_seen_subcommand_from client" -l prot -x -a 'r rw rx rwx'
complete -c memcap -n "__fish_seen_subcommand_from help" -a "$commands"
