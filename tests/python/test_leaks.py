# SPDX-License-Identifier: MIT
"""No leak on any path: descriptors, mappings, Python objects (and, outside ASan, memory).

Each path runs many times; afterwards the process must hold the same descriptors, the context
no mappings or shared objects, and the Python heap (tracemalloc) must not have grown by more
than a small constant. Under AddressSanitizer the resident size is not a measure (freed memory
waits in ASan's quarantine), so the RSS check runs only in unsanitized builds.
"""

import gc
import os
import tempfile
import tracemalloc
import unittest

import memcap
import memcap.mmap as mmap
import memcap.shared_memory as sm

PAGE = mmap.PAGESIZE
ROUNDS = 400
SANITIZED = "libasan" in os.environ.get("LD_PRELOAD", "")


def fds():
    return sorted(os.listdir("/proc/self/fd"))


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Leaks(unittest.TestCase):
    def setUp(self):
        fd, self.path = tempfile.mkstemp(prefix="memcap-leak-", dir=os.getcwd())
        os.write(fd, b"x" * 4 * PAGE)
        os.close(fd)
        self.addCleanup(os.unlink, self.path)
        self.ctx = memcap.Context()

    def paths(self):
        ctx = self.ctx
        with open(self.path, "r+b") as f:
            m = mmap.mmap(f.fileno(), 0, context=ctx)
        m.find(b"needle")
        m[0:10] = m[10:20]
        m.resize(2 * PAGE)
        v = memoryview(m)
        try:
            m.close()
        except BufferError:
            pass
        v.release()
        m.close()
        for bad in (lambda: mmap.mmap(-1, PAGE, prot=7, context=ctx),
                    lambda: mmap.mmap(-1, 0, context=ctx),
                    lambda: mmap.mmap(-2, PAGE, context=ctx),
                    lambda: mmap.mmap(-1, PAGE, policy="{bad json"),
                    lambda: mmap.mmap(-1, PAGE, context=ctx).read("x")):
            try:
                bad()
            except (OSError, ValueError, TypeError):
                pass
        with open(self.path, "r+b") as f:
            m = mmap.mmap(f.fileno(), 0, context=ctx)
        os.truncate(self.path, PAGE)
        try:
            m[PAGE + 1:PAGE + 100]
        except memcap.IoError:
            pass
        try:
            m.find(b"zz", PAGE)
        except memcap.IoError:
            pass
        m.close()
        os.truncate(self.path, 4 * PAGE)
        s = sm.SharedMemory(create=True, size=PAGE, context=ctx)
        t = sm.SharedMemory(s.name, context=ctx)
        t.close()
        s.close()
        s.unlink()
        try:
            sm.SharedMemory(s.name, context=ctx)
        except FileNotFoundError:
            pass
        a = sm.SharedMemory(create=True, size=PAGE, anonymous=True, context=ctx)
        a.seal(sm.SEAL_SHRINK)
        a.close()
        c = memcap.Context(audit=lambda r: None)
        mmap.mmap(-1, PAGE, context=c).close()

    def test_repeated_paths_leak_nothing(self):
        for _ in range(20):  # warm caches, interned strings, first-use allocations
            self.paths()
        gc.collect()
        fd_before = fds()
        rss_before = rss_kib()
        tracemalloc.start()
        snap = tracemalloc.take_snapshot()
        for _ in range(ROUNDS):
            self.paths()
        gc.collect()
        grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(snap, "filename"))
        tracemalloc.stop()
        self.assertEqual(fds(), fd_before, "descriptors leaked")
        usage = self.ctx.usage()
        self.assertEqual((usage["mappings"], usage["shared_objects"]), (0, 0), usage)
        self.assertLess(grown, 64 * 1024, f"the Python heap grew by {grown} bytes")
        if not SANITIZED:
            self.assertLess(rss_kib() - rss_before, 4096, "resident memory grew by > 4 MiB")


if __name__ == "__main__":
    unittest.main()
