# memcap: the front door. The README's quick start is `make demo` and `make test`.
#
#   make            release build (build/release; the Python package in build/release/python)
#   make demo       build and run the end-to-end demonstration
#   make test       every test, under AddressSanitizer + UndefinedBehaviorSanitizer (with the
#                   Python binding's tests and CPython's test_mmap.py against memcap.mmap)
#   make bench      benchmarks against the raw system calls and baselines (release build);
#                   BENCH_ARGS go to bench-memory/-signal/-daemon, BENCH_CHANNEL_ARGS to
#                   bench-channel (e.g. --json)
#   make fuzz       the libFuzzer harnesses: the daemon's request decoder and a hostile channel
#                   region (clang, ASan/UBSan)
#   make tsan       the channel stress run under ThreadSanitizer (clang); part of `make test`
#   make valgrind   the unit tests under valgrind (no sanitizers)
#   make install    install library, headers, tools (PREFIX, DESTDIR; honoured whatever the
#                   release build was configured with before)
#   make uninstall  remove what the last `make install` installed (same PREFIX, DESTDIR)
#   make check-builds  every buildtype, gcc and clang, Debian's flags: warning-free; install paths
#   make dist       the release tarball (meson dist: built and tested from scratch) in build/dist
#   make deb        Debian packages from debian/ in build/deb (installs what the build needs)
#   make check-deb  make deb, lintian, the packages installed into a bare Debian 12 and run
#   make format     clang-format every C file in place; `make format-check` only checks
#   make test-windows  cross-build the library for Windows (mingw-w64) and run the portable
#                   tests under Wine, in a private WINEPREFIX under build/win
#
# Missing build dependencies (Debian packages) are installed by tools/install-deps.sh.

BUILD      ?= build
REL        := $(BUILD)/release
ASAN       := $(BUILD)/asan
VG         := $(BUILD)/valgrind
PREFIX     ?= /usr/local
# The interpreter the Python binding is built for (Debian's, not whatever is first on PATH).
PYTHON     ?= /usr/bin/python3
MESON_TEST ?= meson test --print-errorlogs --num-processes 2
C_FILES     = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

.PHONY: all deps demo test test-windows tsan bench fuzz valgrind install uninstall check-builds \
	dist deb check-deb format format-check clean

all: $(REL)/build.ninja
	ninja -C $(REL)

deps:
	@tools/install-deps.sh

$(REL)/build.ninja: | deps
	meson setup $(REL) --buildtype=release -Db_lto=true -Dtests=disabled --prefix=$(PREFIX) \
		-Dpython=$(PYTHON)

$(ASAN)/build.ninja: | deps
	meson setup $(ASAN) --buildtype=debugoptimized -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbench=false -Dtests=enabled -Dpython=$(PYTHON)

$(VG)/build.ninja: | deps
	meson setup $(VG) --buildtype=debug -Dbench=false -Dtests=enabled

demo: $(REL)/build.ninja
	ninja -C $(REL)
	$(REL)/examples/memcap-demo
	$(REL)/examples/memcap-demo-daemon $(REL)/src/daemon/memcapd
	$(REL)/examples/memcap-demo-channel $(REL)/src/daemon/memcapd

test: $(ASAN)/build.ninja
	ninja -C $(ASAN)
	$(MESON_TEST) -C $(ASAN)
	$(MAKE) --no-print-directory tsan TSAN_SCALE=25

# Channels between threads under ThreadSanitizer. Clang's: GCC 12's does not see races through
# memcpy, which is how a channel moves its messages. Only the library and the stress program
# are built. TSAN_SCALE is the percentage of the full message counts (100: about a minute).
TSAN       := $(BUILD)/tsan
TSAN_SCALE ?= 100

$(TSAN)/build.ninja: | deps
	@tools/install-deps.sh clang
	CC=clang meson setup $(TSAN) --buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false \
		-Dbench=false -Dtests=enabled

tsan: $(TSAN)/build.ninja
	ninja -C $(TSAN) tests/unit/stress-channel
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(TSAN)/tests/unit/stress-channel \
		--scale $(TSAN_SCALE)

# Windows: libmemcap-0.dll and the portable tests, cross-built and run under Wine. Wine's first
# start builds its prefix (build/win/wineprefix; about 6 s here, once). No standard input.
WIN        := $(BUILD)/win

$(WIN)/build.ninja:
	@tools/install-deps.sh windows
	meson setup $(WIN) --cross-file cross/x86_64-w64-mingw32.ini -Dtests=enabled -Dbench=false

test-windows: $(WIN)/build.ninja
	@tools/install-deps.sh windows
	ninja -C $(WIN)
	tools/test-windows.sh $(WIN)

FUZZ       := $(BUILD)/fuzz
FUZZ_TIME  ?= 120

bench: $(REL)/build.ninja
	@tools/install-deps.sh redis bench
	@[ -x $(REL)/bench/bench-channel-boost ] || meson setup --reconfigure $(REL) >/dev/null
	ninja -C $(REL)
	$(REL)/bench/bench-memory $(BENCH_ARGS)
	$(REL)/bench/bench-uffd
	$(REL)/bench/bench-signal $(BENCH_ARGS)
	$(REL)/bench/bench-daemon $(BENCH_ARGS)
	$(REL)/bench/bench-channel $(BENCH_CHANNEL_ARGS)
	@if [ -d $(REL)/python/memcap ]; then \
		PYTHONPATH=$(REL)/python $(PYTHON) bench/bench-python.py $(BENCH_ARGS); \
	else echo "bench-python: skipped, the Python binding was not built"; fi

$(FUZZ)/build.ninja: | deps
	@tools/install-deps.sh fuzz
	CC=clang meson setup $(FUZZ) --buildtype=debugoptimized -Dfuzz=true -Dtests=disabled \
		-Dbench=false

fuzz: $(FUZZ)/build.ninja
	ninja -C $(FUZZ)
	mkdir -p $(FUZZ)/corpus $(FUZZ)/corpus-channel
	$(FUZZ)/tests/fuzz/fuzz-protocol -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
		$(FUZZ)/corpus tests/fuzz/corpus/protocol
	$(FUZZ)/tests/fuzz/fuzz-channel -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
		$(FUZZ)/corpus-channel tests/fuzz/corpus/channel

# The library's suites under valgrind (the CLI and daemon suites spawn programs and measure
# time, which valgrind's slowdown defeats; their code is the library's plus thin front ends).
VG_SUITES ?= audit ctx error fault fork guard idtable map mapfile policy protocol quota shm signal signame wx
# Tests valgrind cannot run: it turns the SIGBUS of a truncated file into a SIGSEGV of its own,
# and a test that expects to die by a signal cannot skip (Criterion counts the skip a failure).
VG_EXCLUDE ?= guard/raw_fault_with_default_disposition_still_kills

valgrind: $(VG)/build.ninja
	@tools/install-deps.sh valgrind
	ninja -C $(VG)
	MEMCAP_UNDER_VALGRIND=1 $(MESON_TEST) -C $(VG) --timeout-multiplier 10 \
		--wrapper 'valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --trace-children=yes --quiet' \
		'--test-args=--filter=!($(VG_EXCLUDE))' $(VG_SUITES)

# The release build may have been configured by `make` or `make demo` with another PREFIX:
# point it at this one first (meson reconfigures; nothing is rebuilt for a prefix change).
install: $(REL)/build.ninja
	@[ "$$(meson introspect --buildoptions $(REL) | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')" = "$(PREFIX)" ] || \
		meson configure $(REL) -Dprefix=$(PREFIX)
	ninja -C $(REL)
	meson install -C $(REL) $(if $(DESTDIR),--destdir $(DESTDIR))

# Meson's install log lists every file of the last install, DESTDIR included.
uninstall:
	@[ -f $(REL)/meson-logs/install-log.txt ] || { echo "make uninstall: nothing was installed from $(REL)" >&2; exit 1; }
	ninja -C $(REL) uninstall

check-builds:
	@tools/install-deps.sh clang
	tools/check-builds.sh

# meson dist builds the tarball's contents from scratch and runs every test there (tests on).
DIST := $(BUILD)/dist
$(DIST)/build.ninja: | deps
	meson setup $(DIST) -Dbench=false -Dtests=enabled -Dpython=$(PYTHON)

dist: $(DIST)/build.ninja
	meson dist -C $(DIST) --formats xztar
	@ls -l $(DIST)/meson-dist/

deb:
	tools/build-deb.sh

check-deb:
	tools/check-deb.sh

format:
	clang-format -i $(C_FILES)

format-check:
	clang-format --dry-run -Werror $(C_FILES)

clean:
	rm -rf $(BUILD)
