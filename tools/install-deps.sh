#!/bin/sh
# Install what building, testing and demonstrating memcap needs, when it is missing.
# Debian/Ubuntu only (apt-get); runs apt-get only if something is actually missing.
# Usage: tools/install-deps.sh [extra...]
#   extra: clang, fuzz (clang + libFuzzer), valgrind, man (scdoc), redis, deb (packaging tools),
#          bench (g++ and Boost.Interprocess, the channel benchmark's baseline),
#          windows (the mingw-w64 cross compiler and Wine, for `make test-windows`)
set -eu

need=""
add() { need="$need $*"; }

command -v cc >/dev/null 2>&1 || add gcc libc6-dev
command -v meson >/dev/null 2>&1 || add meson
command -v ninja >/dev/null 2>&1 || add ninja-build
command -v pkg-config >/dev/null 2>&1 || add pkg-config
# The manual pages are always built.
command -v scdoc >/dev/null 2>&1 || add scdoc
# The completions test runs each shell's completion in that shell (skipped without it).
command -v zsh >/dev/null 2>&1 || add zsh
command -v fish >/dev/null 2>&1 || add fish
if command -v pkg-config >/dev/null 2>&1; then
        pkg-config --exists jansson || add libjansson-dev
        pkg-config --exists criterion || add libcriterion-dev
        pkg-config --exists libsystemd || add libsystemd-dev
        pkg-config --exists libedit || add libedit-dev
else
        add libjansson-dev libcriterion-dev libsystemd-dev libedit-dev
fi

# The Python binding is built for and tested with Debian's interpreter (not whatever python3
# comes first on PATH): its development headers, and CPython's own test suite, which the
# binding's tests run (test_mmap.py, the shared memory tests of _test_multiprocessing.py).
[ -x /usr/bin/python3 ] || add python3
pyver=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3.11)
if command -v dpkg >/dev/null 2>&1; then
        dpkg -s python3-dev >/dev/null 2>&1 || add python3-dev
        dpkg -s "libpython$pyver-testsuite" >/dev/null 2>&1 || add "libpython$pyver-testsuite"
fi

for extra in "$@"; do
        case "$extra" in
        clang) command -v clang >/dev/null 2>&1 || add clang ;;
        fuzz) command -v clang >/dev/null 2>&1 || add clang
              [ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] ||
                      add libclang-rt-dev ;;
        valgrind) command -v valgrind >/dev/null 2>&1 || add valgrind ;;
        man) ;; # scdoc is always needed now (above)
        redis) command -v redis-server >/dev/null 2>&1 || add redis-server ;;
        deb) command -v dpkg-buildpackage >/dev/null 2>&1 || add dpkg-dev
             command -v dh >/dev/null 2>&1 || add debhelper
             command -v lintian >/dev/null 2>&1 || add lintian
             command -v fakeroot >/dev/null 2>&1 || add fakeroot
             command -v debootstrap >/dev/null 2>&1 || add debootstrap ;;
        bench) command -v g++ >/dev/null 2>&1 || add g++
               [ -f /usr/include/boost/interprocess/ipc/message_queue.hpp ] || add libboost-dev ;;
        windows) command -v x86_64-w64-mingw32-gcc-posix >/dev/null 2>&1 || add gcc-mingw-w64-x86-64
                 command -v wine >/dev/null 2>&1 || add wine wine64 ;;
        *) echo "install-deps: unknown extra '$extra'" >&2; exit 2 ;;
        esac
done

[ -z "$need" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-deps: missing:$need — install them with your package manager" >&2
        exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
                sudo="sudo"
        else
                echo "install-deps: missing:$need — run as root or install them" >&2
                exit 1
        fi
fi
echo "install-deps: installing$need"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $need >/dev/null
