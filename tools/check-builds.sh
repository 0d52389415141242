#!/usr/bin/env bash
# Build memcap the ways people build it and check that every way is warning-free, that a
# distribution's build survives warnings we have not seen, and that `make install`/`uninstall`
# honour PREFIX and DESTDIR whatever the release build was configured with before.
#
# Prints one TAP-style line per check ("ok N - what" / "not ok N - what") and ends with
# "N passed, N failed"; exits non-zero when a check failed. Builds go to build/check/.
# Usage: tools/check-builds.sh [name...]   (default: every check)
set -uo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=tools/tap.sh
. tools/tap.sh

out=build/check
mkdir -p "$out"

# build NAME CC [meson options...]: configure from scratch, build everything (tests, benchmarks,
# examples), and require zero compiler warnings. Extra compiler flags come from CFLAGS etc.
build() {
        local name=$1 cc=$2 dir="$out/$1" log="$out/$1.log"
        shift 2
        rm -rf "$dir"
        if ! CC=$cc meson setup "$dir" -Dtests=enabled -Dbench=true "$@" >"$log" 2>&1; then
                report FAIL "$name: meson setup" "$log"
                return
        fi
        if ! ninja -C "$dir" >>"$log" 2>&1; then
                report FAIL "$name: build" "$log"
                return
        fi
        if grep -E 'warning:' "$log" >"$log.warnings"; then
                report FAIL "$name: $(wc -l <"$log.warnings") compiler warnings" "$log.warnings"
                return
        fi
        report OK "$name: builds warning-free"
        rm -rf "$dir"
}

# tolerant NAME [meson options...]: a build with an extra warning that fires all over the code
# (-Wpadded) must still succeed: a newer compiler's new warning must not fail it.
tolerant() {
        local name=$1 dir="$out/$1" log="$out/$1.log"
        shift
        rm -rf "$dir"
        if CFLAGS="${CFLAGS:-} -Wpadded" meson setup "$dir" -Dtests=enabled "$@" >"$log" 2>&1 &&
                ninja -C "$dir" >>"$log" 2>&1 && grep -q 'Wpadded' "$log"; then
                report OK "$name: a new warning does not fail the build"
        else
                report FAIL "$name: a build with warnings failed (or -Wpadded never fired)" "$log"
        fi
        rm -rf "$dir"
}

# make install after the release build was configured with another prefix, then uninstall.
install_paths() {
        local dest log="$out/install.log"
        dest=$(mktemp -d "${TMPDIR:-/tmp}/memcap-install.XXXXXX")
        {
                make BUILD="$out/make" PREFIX=/usr/local all &&
                        make BUILD="$out/make" PREFIX=/usr DESTDIR="$dest" install
        } >"$log" 2>&1
        if [ -f "$dest/usr/include/memcap/memcap.h" ] && [ -x "$dest/usr/bin/memcap" ] &&
                [ ! -e "$dest/usr/local" ] && ! grep -rq '/usr/local' "$dest"/usr/lib/*/pkgconfig/memcap.pc \
                        "$dest"/usr/lib/pkgconfig/memcap.pc 2>/dev/null; then
                report OK "make install honours PREFIX and DESTDIR after a build for another prefix"
        else
                find "$dest" -maxdepth 3 >>"$log" 2>&1
                report FAIL "make install PREFIX=/usr DESTDIR=... after make" "$log"
        fi
        # The Python package goes where Debian's /usr/bin/python3 looks for prefix /usr, and
        # the installed copy imports and maps (its libmemcap found through DESTDIR here).
        local pkg="$dest/usr/lib/python3/dist-packages"
        if [ ! -x /usr/bin/python3 ]; then
                report OK "make install: no /usr/bin/python3, so no Python package # SKIP"
        elif [ -f "$pkg/memcap/__init__.py" ] && ls "$pkg"/memcap/_memcap*.so >/dev/null 2>&1 &&
                PYTHONPATH="$pkg" LD_LIBRARY_PATH="$(dirname "$(find "$dest" -name 'libmemcap.so.0' | head -1)")" \
                        /usr/bin/python3 -c 'import memcap.mmap as m; m.mmap(-1, 4096).close()' >>"$log" 2>&1; then
                report OK "make install puts the Python package in $(echo "$pkg" | sed "s|^$dest||") and it imports"
        else
                find "$dest" -path '*python*' >>"$log" 2>&1
                report FAIL "make install PREFIX=/usr: the Python package is missing or does not import" "$log"
        fi
        if make BUILD="$out/make" PREFIX=/usr DESTDIR="$dest" uninstall >>"$log" 2>&1 &&
                [ -z "$(find "$dest" -type f -o -type l)" ]; then
                report OK "make uninstall removes every installed file"
        else
                find "$dest" -type f -o -type l >>"$log" 2>&1
                report FAIL "make uninstall left files behind" "$log"
        fi
        # Then PREFIX=/usr/local (after the uninstall above, which reads the last install's
        # log): Debian's interpreter searches /usr/local/lib/python3.X/dist-packages
        # (Meson 1.0 alone would pick /usr/local/lib/python3/dist-packages, which it does not).
        local dest2 pyver
        dest2=$(mktemp -d "${TMPDIR:-/tmp}/memcap-install.XXXXXX")
        if [ -x /usr/bin/python3 ]; then
                pyver=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
                if make BUILD="$out/make" PREFIX=/usr/local DESTDIR="$dest2" install >>"$log" 2>&1 &&
                        /usr/bin/python3 -c 'import sys; sys.exit(sys.argv[1] not in sys.path)' \
                                "/usr/local/lib/python$pyver/dist-packages" &&
                        [ -f "$dest2/usr/local/lib/python$pyver/dist-packages/memcap/__init__.py" ]; then
                        report OK "make install PREFIX=/usr/local puts the Python package on the interpreter's path"
                else
                        find "$dest2" -path '*python*' -name '__init__.py' >>"$log" 2>&1
                        report FAIL "make install PREFIX=/usr/local: the Python package is not where python$pyver looks" "$log"
                fi
                make BUILD="$out/make" PREFIX=/usr/local DESTDIR="$dest2" uninstall >>"$log" 2>&1
        fi
        rm -rf "$dest2"
        rm -rf "$dest" "$out/make"
}

want() { [ ${#selected[@]} -eq 0 ] || [[ " ${selected[*]} " == *" $1 "* ]]; }
selected=("$@")

want default && build default cc
want debug && build debug cc --buildtype=debug
want release && build release cc --buildtype=release -Db_lto=true
want werror-off && build werror-off cc -Dwerror=false
if want debian; then
        # Debian's flags (hardening, _FORTIFY_SOURCE, -O2) on the buildtype packagers use.
        eval "$(dpkg-buildflags --export=sh 2>/dev/null)"
        build debian cc --buildtype=plain
        tolerant debian-new-warning --buildtype=plain
        unset CFLAGS CPPFLAGS LDFLAGS CXXFLAGS
fi
want werror-off-new-warning && tolerant werror-off-new-warning -Dwerror=false
if command -v clang >/dev/null 2>&1; then
        want clang && build clang clang
        want clang-release && build clang-release clang --buildtype=release
else
        want clang && report FAIL "clang is not installed (tools/install-deps.sh clang)"
fi
want install && install_paths

tap_summary
