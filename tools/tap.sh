# shellcheck shell=bash
# TAP-style reporting for the tools/check-*.sh scripts (sourced, not run): one line per check,
# "ok N - what" or "not ok N - what", counted for the closing "N passed, N failed".
#
# report OK|FAIL what [log]: on FAIL, an excerpt of log (default: $tap_log) follows as "#"
# comment lines, as tap_excerpt makes it (default: the log's first 40 lines; a script whose log
# grows as it goes redefines it to show the end).
n=0
passed=0
failed=0
tap_log=

tap_excerpt() {
        sed -n '1,40p' "$1"
}

report() {
        local log=${3:-$tap_log}

        n=$((n + 1))
        if [ "$1" = OK ]; then
                passed=$((passed + 1))
                echo "ok $n - $2"
        else
                failed=$((failed + 1))
                echo "not ok $n - $2"
                [ -n "$log" ] && [ -f "$log" ] && tap_excerpt "$log" | sed 's/^/#   /'
        fi
        return 0
}

# The closing line, and the status: success when no check failed.
tap_summary() {
        echo "$passed passed, $failed failed"
        [ "$failed" -eq 0 ]
}
