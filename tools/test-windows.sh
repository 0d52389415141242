#!/bin/sh
# Run the Windows test programs of the cross build in $1 (make test-windows) under Wine, with a
# private prefix in $1/wineprefix, no standard input and a bounded time each. Ends with the
# plain line "N passed, N failed"; exits nonzero when a test failed or a program did not finish.
set -u
build=${1:?usage: test-windows.sh BUILD_DIR}
export WINEPREFIX="$(cd "$build" && pwd)/wineprefix"
export WINEDEBUG=-all
# No Mono or Gecko installer dialogs: the tests need neither.
export WINEDLLOVERRIDES='mscoree,mshtml='
export WINEPATH="Z:$(cd "$build/src/lib" && pwd | tr / '\\')"
if [ ! -f "$WINEPREFIX/system.reg" ]; then
        start=$(date +%s)
        wineboot -i </dev/null >/dev/null 2>&1
        echo "test-windows: Wine's first start (wineboot -i) took $(( $(date +%s) - start )) s"
fi
passed=0 failed=0 status=0
for exe in "$build"/tests/portable/*.exe; do
        # Wine's console ends lines with CR LF.
        out=$(cd "$(dirname "$exe")" && timeout 600 wine "./$(basename "$exe")" </dev/null 2>&1;
              echo "rc=$?")
        out=$(printf '%s\n' "$out" | tr -d '\r')
        rc=$(printf '%s\n' "$out" | sed -n 's/^rc=//p' | tail -1)
        out=$(printf '%s\n' "$out" | grep -v '^rc=')
        printf '%s\n' "$out" | grep -v '^\(wine: \|[0-9]* passed, [0-9]* failed$\)'
        line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
        if [ -z "$line" ]; then
                echo "test-windows: $(basename "$exe") ended without a summary (exit $rc)"
                failed=$((failed + 1))
                status=1
                continue
        fi
        passed=$((passed + ${line%% passed*}))
        n=${line#*, }
        failed=$((failed + ${n%% failed}))
        [ "$rc" -eq 0 ] || status=1
done
wineserver -k 2>/dev/null || true
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && exit $status
exit 1
