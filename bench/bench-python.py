# SPDX-License-Identifier: MIT
"""bench-python: memcap's Python binding against the standard modules, in one run.

    PYTHONPATH=build/release/python /usr/bin/python3 bench/bench-python.py [--quick]
        [--rounds N] [--size MIB] [--dir DIR] [--json FILE]

Rows (see bench/README.md, "bench-python"):
  slice 4 KiB (streaming)   m[o:o+4096] walking the file, memcap.mmap vs mmap.mmap
  slice 4 KiB (hot)         the same 4 KiB every time
  slice 1 MiB (streaming)   m[o:o+1 MiB] walking the file
  find (absent, 8 bytes)    m.find() of a needle that is not in the file: a whole scan
  memoryview scan           zlib.crc32(memoryview(m)): every byte through the buffer protocol
  realtime signal round trip  memcap.signal.send + handler on memcap's thread, against
                            os.kill + a handler of the standard signal module

Both sides map the same page-cached file. Each round is cut into slices in which the sides
alternate (order rotated), the stdlib side's round lasts >= 50 ms (5 ms with --quick), and a
cell is the median over the rounds; the ratio is the median of the per-round ratios, memcap's
throughput over the stdlib's (higher is better; for the signal row, memcap's time over the
stdlib's, lower is better). Exit status: 0 when everything ran (also when a target was
missed), 1 when something failed, 2 for bad options.
"""

import argparse
import json
import mmap as std_mmap
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import zlib

import memcap
import memcap.mmap as mc_mmap
import memcap.signal as msig

KIB, MIB = 1024, 1024 * 1024


def now():
    return time.perf_counter_ns()


def cpu():
    return time.thread_time_ns()


class Case:
    """One row: two callables doing `unit` operations each call, and how to report them."""

    def __init__(self, name, memcap_fn, std_fn, bytes_per_op=0, target=None, lower_better=False):
        self.name = name
        self.sides = [memcap_fn, std_fn]
        self.bytes_per_op = bytes_per_op
        self.target = target
        self.lower_better = lower_better


def calibrate(fn, min_ns):
    n = 1
    while True:
        t0 = now()
        fn(n)
        dt = now() - t0
        if dt >= min_ns or n >= 1 << 30:
            return n
        n = max(n * 2, int(n * min_ns / max(dt, 1) * 1.2))


def run_case(case, rounds, min_ns):
    # At least 6 operations per round, so that even a whole-file scan alternates A B A B
    # within a round instead of comparing two runs a round apart.
    ops = max(6, calibrate(case.sides[1], min_ns))
    for fn in case.sides:  # untimed warm-up of both sides
        fn(max(1, ops // 10))
    slices = min(10, ops)
    per = [ops // slices + (1 if i < ops % slices else 0) for i in range(slices)]
    times = [[], []]
    cpus = [[], []]
    for r in range(rounds):
        t = [0, 0]
        c = [0, 0]
        for s, n in enumerate(per):
            order = (0, 1) if (r + s) % 2 == 0 else (1, 0)
            for side in order:
                c0, t0 = cpu(), now()
                case.sides[side](n)
                t[side] += now() - t0
                c[side] += cpu() - c0
        for side in (0, 1):
            times[side].append(t[side] / ops)
            cpus[side].append(c[side] / ops)
    if case.lower_better:
        ratios = [m / s for m, s in zip(*times)]
        cpu_ratios = [m / s for m, s in zip(*cpus)]
    else:
        ratios = [s / m for m, s in zip(*times)]
        cpu_ratios = [s / m for m, s in zip(*cpus) if m > 0]
    return {
        "name": case.name,
        "ops_per_round": ops,
        "memcap_ns": statistics.median(times[0]),
        "stdlib_ns": statistics.median(times[1]),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "cpu_ratio": statistics.median(cpu_ratios) if cpu_ratios else None,
        "bytes_per_op": case.bytes_per_op,
        "target": case.target,
        "ratio_meaning": ("memcap time / stdlib time (lower is better)" if case.lower_better
                          else "memcap throughput / stdlib throughput (higher is better)"),
        "memcap_ns_rounds": times[0],
        "stdlib_ns_rounds": times[1],
    }


def fmt_cell(ns, nbytes):
    if nbytes:
        return f"{nbytes / ns:.2f} GB/s ({fmt_time(ns)})"
    return fmt_time(ns)


def fmt_time(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.0f} ns"


def make_file(directory, size):
    fd, path = tempfile.mkstemp(prefix="memcap-bench-py-", dir=directory)
    block = bytes(i % 251 for i in range(MIB))  # never 0xff: an absent needle reads it all
    with os.fdopen(fd, "wb") as f:
        for _ in range(size // MIB):
            f.write(block)
        f.flush()
        os.fdatasync(f.fileno())
    with open(path, "rb") as f:  # into the page cache
        while f.read(8 * MIB):
            pass
    return path


def memory_cases(path, size):
    f = open(path, "rb")
    std = std_mmap.mmap(f.fileno(), 0, access=std_mmap.ACCESS_READ)
    mine = mc_mmap.mmap(f.fileno(), 0, access=mc_mmap.ACCESS_READ)
    f.close()
    for m in (std, mine):  # fault both mappings in before the rounds
        zlib.crc32(memoryview(m))

    def slicer(m, width, start):
        # The sides walk different halves of the file at any moment, so neither reads what
        # the other has just pulled into the CPU's caches.
        pos = [start]
        end = size - width

        def run(n):
            o = pos[0]
            for _ in range(n):
                m[o:o + width]
                o += width
                if o > end:
                    o = 0
            pos[0] = o
        return run

    def hot(m):
        def run(n):
            for _ in range(n):
                m[4096:8192]
        return run

    needle = b"\xff" * 8

    def finder(m):
        def run(n):
            for _ in range(n):
                if m.find(needle) != -1:
                    raise SystemExit("bench-python: the needle was found; the file is wrong")
        return run

    def scanner(m):
        def run(n):
            for _ in range(n):
                with memoryview(m) as v:
                    zlib.crc32(v)
        return run

    cases = [
        Case("slice 4 KiB (streaming)", slicer(mine, 4 * KIB, 0), slicer(std, 4 * KIB, size // 2),
             4 * KIB, 0.95),
        # No target: the fixed cost per call (the context lock, the registry lookup, arming
        # the SIGBUS guard) at its most visible, against a copy from L1.
        Case("slice 4 KiB (hot)", hot(mine), hot(std), 4 * KIB, None),
        Case("slice 1 MiB (streaming)", slicer(mine, MIB, 0), slicer(std, MIB, size // 2), MIB,
             0.95),
        Case("find (absent, 8 bytes)", finder(mine), finder(std), size, 0.95),
        Case("memoryview scan (crc32)", scanner(mine), scanner(std), size, 0.95),
    ]
    return cases, (std, mine)


def signal_case():
    pid = os.getpid()
    sig = msig.SIGRTMIN + 1
    std_sig = signal.SIGRTMIN + 2
    mine_lock = threading.Lock()
    std_lock = threading.Lock()
    mine_lock.acquire()
    std_lock.acquire()
    got = [0]

    def mine_handler(info):
        got[0] += 1
        mine_lock.release()

    def std_handler(signo, frame):
        std_lock.release()

    msig.register(sig, mine_handler)
    old = signal.signal(std_sig, std_handler)

    def mine(n):
        for i in range(n):
            msig.send(pid, sig, value=i)
            if not mine_lock.acquire(timeout=10):
                raise SystemExit("bench-python: a memcap signal was lost (no handler call in 10 s)")

    def std(n):
        for _ in range(n):
            os.kill(pid, std_sig)
            if not std_lock.acquire(timeout=10):
                raise SystemExit("bench-python: a stdlib signal was lost")

    def cleanup():
        msig.unregister(sig)
        signal.signal(std_sig, old)

    return Case("realtime signal round trip", mine, std, 0, None, lower_better=True), cleanup


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--size", type=int, default=None, help="scan file size in MiB")
    ap.add_argument("--dir", default="/var/tmp" if os.path.isdir("/var/tmp") else "/tmp")
    ap.add_argument("--json", default=None)
    ap.add_argument("--pin", type=int, default=None, help="run on this CPU only")
    try:
        args = ap.parse_args()
    except SystemExit as e:
        sys.exit(2 if e.code else 0)
    rounds = args.rounds or (3 if args.quick else 11)
    size = (args.size or (32 if args.quick else 256)) * MIB
    min_ns = 5_000_000 if args.quick else 50_000_000
    if rounds < 1 or size < 2 * MIB:
        print("bench-python: --rounds >= 1 and --size >= 2 are needed", file=sys.stderr)
        sys.exit(2)
    out = open(args.json, "w") if args.json else None
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})

    results, notes = [], []
    path = make_file(args.dir, size)
    try:
        cases, keep = memory_cases(path, size)
        sc, cleanup = signal_case()
        cases.append(sc)
        try:
            for case in cases:
                results.append(run_case(case, rounds, min_ns))
        finally:
            cleanup()
            for m in keep:
                m.close()
    finally:
        os.unlink(path)

    if not sys.flags.optimize and "libasan" in os.environ.get("LD_PRELOAD", ""):
        notes.append("running under AddressSanitizer: the numbers measure the instrumentation")
    print(f"bench-python: memcap {memcap.__version__}, Python {sys.version.split()[0]} "
          f"({sys.executable}), {rounds} rounds, scan file {size // MIB} MiB in {args.dir}"
          + (f", pinned to CPU {args.pin}" if args.pin is not None else ""))
    head = (f"{'benchmark':<28} | {'memcap':<24} | {'stdlib':<24} | ratio |  target | verdict "
            f"| ratio min-max | cpu ratio")
    print(head)
    print("-" * len(head))
    for r in results:
        target = r["target"]
        verdict = "-" if target is None else ("ok" if r["ratio"] >= target else "MISSED")
        r["verdict"] = verdict
        tgt = "-" if target is None else f">= {target:.2f}"
        cpu_ratio = "-" if r["cpu_ratio"] is None else f"{r['cpu_ratio']:.3f}"
        print(f"{r['name']:<28} | {fmt_cell(r['memcap_ns'], r['bytes_per_op']):<24} | "
              f"{fmt_cell(r['stdlib_ns'], r['bytes_per_op']):<24} | {r['ratio']:.3f} | "
              f"{tgt:>7} | {verdict:<7} | {r['ratio_min']:.3f}-{r['ratio_max']:.3f}   | "
              f"{cpu_ratio}")
    print("Throughput rows: memcap's GB/s over the stdlib's (higher is better). The signal row: "
          "memcap's round trip over the stdlib's (lower is better); memcap's handler runs on "
          "its dispatcher thread and must take the GIL, the stdlib's runs in the main thread.")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; CPUs {os.cpu_count()}")
    for n in notes:
        print(f"note: {n}")
    if out:
        json.dump({"memcap_version": memcap.__version__, "python": sys.version,
                   "rounds": rounds, "scan_bytes": size, "load": load, "notes": notes,
                   "results": results}, out, indent=1)
        out.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, SystemExit) as e:
        if isinstance(e, SystemExit) and (e.code in (0, None, 2)):
            raise
        print(f"bench-python: {e}", file=sys.stderr)
        sys.exit(1)
