# SPDX-License-Identifier: MIT
"""What memcap.shared_memory adds: owners, policy checks, anonymous sealable regions, audit."""

import os
import unittest

import memcap
import memcap.shared_memory as sm

PAGE = memcap.PAGESIZE


class SharedMemoryMemcap(unittest.TestCase):
    def name(self, tag):
        return f"memcap-pytest-{tag}-{os.getpid()}"

    def test_owner_is_local_for_the_creator_and_remote_in_another_process(self):
        s = sm.SharedMemory(self.name("owner"), create=True, size=PAGE)
        self.addCleanup(s.unlink)
        self.addCleanup(s.close)
        self.assertEqual((s.owner, s.owner_pid), ("Local", os.getpid()))
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                t = sm.SharedMemory(s.name)
                os.write(w, f"{t.owner} {t.owner_pid}".encode())
                t.close()
            finally:
                os._exit(0)
        os.close(w)
        got = os.read(r, 100).decode()
        os.close(r)
        os.waitpid(pid, 0)
        owner, owner_pid = got.split()
        self.assertEqual(owner, "Remote")
        # 0 where /dev/shm keeps no user extended attributes (kernels before 6.6).
        self.assertIn(int(owner_pid), (os.getpid(), 0))

    def test_policy_decides_names_and_quota(self):
        pol = {"allowed_shared_memory": ["app-*"]}
        with self.assertRaises(memcap.PolicyViolation) as cm:
            sm.SharedMemory(self.name("denied"), create=True, size=PAGE, policy=pol)
        self.assertIn("allowed_shared_memory", str(cm.exception))
        self.assertIsInstance(cm.exception, PermissionError)
        with self.assertRaises(memcap.PolicyViolation):
            sm.SharedMemory(create=True, size=64 * PAGE, policy={"max_memory_usage": 8 * PAGE})
        with self.assertRaises(memcap.InvalidArgument):
            sm.SharedMemory("bad/name", create=True, size=PAGE)
        with self.assertRaises(ValueError):
            sm.SharedMemory("nul\0name", create=True, size=PAGE)
        with self.assertRaises(ValueError):
            sm.SharedMemory(create=True, size=-1)
        with self.assertRaises(TypeError):
            sm.SharedMemory(create=True, size="1")
        with self.assertRaises(memcap.PolicyViolation):
            sm.SharedMemory(create=True, size=1 << 62)
        with self.assertRaises(OverflowError):
            sm.SharedMemory(create=True, size=1 << 64)
        with self.assertRaises(memcap.InvalidArgument):
            sm.SharedMemory("x" * 300, create=True, size=PAGE)

    def test_audit_records_carry_the_owner(self):
        records = []
        ctx = memcap.Context(audit=records.append)
        s = sm.SharedMemory(create=True, size=PAGE, context=ctx)
        s.close()
        s.unlink()
        self.assertEqual([r["operation"] for r in records], ["shm_open", "shm_close",
                                                             "shm_unlink"])
        self.assertEqual(records[0]["owner"], "Local")
        self.assertEqual(records[0]["owner_pid"], os.getpid())

    def test_anonymous_region_seals_and_fork(self):
        a = sm.SharedMemory(create=True, size=PAGE, anonymous=True)
        self.assertIsNone(a.name)
        self.assertGreaterEqual(a.fd, 0)
        a.buf[0:4] = b"memf"
        a.seal(sm.SEAL_SHRINK | sm.SEAL_GROW)
        self.assertEqual(a.seals & (sm.SEAL_SHRINK | sm.SEAL_GROW),
                         sm.SEAL_SHRINK | sm.SEAL_GROW)
        with self.assertRaises(PermissionError):
            os.ftruncate(a.fd, 0)
        pid = os.fork()
        if pid == 0:
            a.buf[4:8] = b"kid!"
            os._exit(0)
        os.waitpid(pid, 0)
        self.assertEqual(bytes(a.buf[0:8]), b"memfkid!")
        with self.assertRaises(TypeError):
            import pickle
            pickle.dumps(a)
        with self.assertRaises(ValueError):
            a.unlink()
        a.close()
        with self.assertRaises(ValueError):
            sm.SharedMemory("x", create=True, size=PAGE, anonymous=True)

    def test_close_with_exported_views_is_refused(self):
        s = sm.SharedMemory(create=True, size=PAGE)
        self.addCleanup(s.unlink)
        v = s.buf[0:10]
        with self.assertRaises(BufferError):
            s.close()
        v.release()
        s.close()
        self.assertIsNone(s.buf)

    def test_shareable_list_interoperates_with_the_stdlib(self):
        from multiprocessing import shared_memory as std
        from unittest import mock
        sl = sm.ShareableList([1, "two", 3.0])
        self.addCleanup(sl.shm.unlink)
        self.assertIsInstance(sl.shm, sm.SharedMemory)
        # The stdlib registers even the segments it only attaches to with its resource
        # tracker (a process of its own, which would unlink this one at exit): keep it out.
        with mock.patch("multiprocessing.resource_tracker.register"), \
                mock.patch("multiprocessing.resource_tracker.unregister"):
            other = std.ShareableList(name=sl.shm.name)
            self.assertEqual(list(other), [1, "two", 3.0])
            other[0] = 42
            self.assertEqual(sl[0], 42)
            other.shm.close()
        sl.shm.close()

if __name__ == "__main__":
    unittest.main()
