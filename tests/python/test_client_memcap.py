# SPDX-License-Identifier: MIT
"""memcap.client against a real memcapd, the one built next to this binding, started by the
test on a socket and root directory of its own and stopped with SIGTERM."""

import gc
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import memcap
import memcap.client as mclient

WAIT = 20.0


def memcapd_path():
    root = os.environ.get("MEMCAP_BUILD_ROOT")
    return os.path.join(root, "src", "daemon", "memcapd") if root else None


@unittest.skipUnless(memcapd_path() and os.access(memcapd_path(), os.X_OK),
                     "memcapd is not built (MEMCAP_BUILD_ROOT unset)")
class ClientTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="memcapd-pytest-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.sock = os.path.join(self.dir, "sock")
        self.root = os.path.join(self.dir, "root")
        os.makedirs(os.path.join(self.root, "data"))
        with open(os.path.join(self.root, "data", "f"), "wb") as f:
            f.write(b"Hello, memcapd!\n" + bytes(3 * 4096))
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.addCleanup(self.log.close)
        self.proc = subprocess.Popen([memcapd_path(), "-s", self.sock, "-r", self.root],
                                     stdout=self.log, stderr=self.log)
        self.addCleanup(self.stop)
        # The socket file appears when memcapd binds it, a moment before it listens.
        deadline = time.monotonic() + WAIT
        while True:
            try:
                self.c = mclient.Client(self.sock, timeout=WAIT)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.fail(f"memcapd did not start: {open(self.log.name).read()}")
                time.sleep(0.01)
        self.addCleanup(self.c.close)

    def test_a_failed_connection_leaves_nothing_to_close(self):
        # The half-made object is collected at once; its __del__ must have nothing to report.
        reported = []
        old_hook = sys.unraisablehook
        sys.unraisablehook = reported.append
        try:
            with self.assertRaises(FileNotFoundError):
                mclient.Client(os.path.join(self.dir, "nobody-listens"), timeout=WAIT)
            with open(os.path.join(self.dir, "not-a-socket"), "w"):
                pass
            with self.assertRaises(ConnectionRefusedError):
                mclient.Client(os.path.join(self.dir, "not-a-socket"), timeout=WAIT)
            gc.collect()
        finally:
            sys.unraisablehook = old_hook
        self.assertEqual([str(r.exc_value) for r in reported], [])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.fail("memcapd did not stop within 20 s of SIGTERM")

    def test_hello(self):
        h = self.c.hello()
        self.assertEqual(h["daemon"], "memcapd")
        self.assertEqual(h["pid"], os.getpid())
        self.assertIn("FdPass", h["capabilities"])

    def test_mmap_read_write_msync_stats_munmap(self):
        i = self.c.mmap("/data/f", prot=mclient.PROT_READ | mclient.PROT_WRITE, shared=True)
        self.assertEqual(self.c.read(i, 0, 16), b"Hello, memcapd!\n")
        self.c.write(i, 0, b"HELLO")
        self.assertEqual(self.c.read(i, 0, 5), b"HELLO")
        self.c.msync(i)
        with open(os.path.join(self.root, "data", "f"), "rb") as f:
            self.assertEqual(f.read(5), b"HELLO")
        st = self.c.stats(i)
        self.assertEqual((st["id"], st["path"], st["flags"], st["owner_pid"]),
                         (i, "/data/f", "Shared", os.getpid()))
        self.assertEqual([m["id"] for m in self.c.list()], [i])
        self.c.munmap(i)
        with self.assertRaises(memcap.NotFound) as cm:
            self.c.read(i, 0, 1)
        self.assertEqual(cm.exception.code, "core.memory.NotFound")
        self.assertIsInstance(cm.exception, FileNotFoundError)

    def test_fd_maps_the_passed_descriptor(self):
        i = self.c.mmap("/data/f", prot=3, shared=True)
        m = self.c.fd(i)
        self.assertIsInstance(m, memcap.mmap.mmap)
        self.assertEqual(m[0:5], b"Hello")
        m[0:5] = b"Zero!"
        self.assertEqual(self.c.read(i, 0, 5), b"Zero!", "one page cache for both")
        m.close()
        anon = self.c.mmap(length=8192, prot=3)
        self.assertEqual(self.c.read(anon, 8190, 2), b"\0\0")

    def test_errors_are_exceptions_of_their_kind(self):
        with self.assertRaises(memcap.NotFound):
            self.c.mmap("/data/missing")
        with self.assertRaises(memcap.InvalidArgument) as cm:
            self.c.call("MmapRead", mmap_id=-1, offset=0, length=1)
        self.assertIn("mmap_id", str(cm.exception))
        i = self.c.mmap("/data/f", prot=1)
        with self.assertRaises(memcap.InvalidArgument):
            self.c.read(i, 1 << 20, 1)
        os.truncate(os.path.join(self.root, "data", "f"), 0)
        with self.assertRaises(memcap.IoError) as cm:
            self.c.read(i, 4096, 16)
        self.assertEqual(cm.exception.kind, "Io")
        self.assertEqual(self.c.hello()["daemon"], "memcapd", "the daemon lives on")


if __name__ == "__main__":
    unittest.main()
