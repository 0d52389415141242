# SPDX-License-Identifier: MIT
"""memcap.signal: handlers on the dispatcher thread, realtime signals without loss, payloads
and senders, send/wait/mask, fd()+dispatch() with asyncio, policy. Every wait is bounded and
fails with a message instead of hanging."""

import asyncio
import os
import select
import threading
import time
import unittest

import memcap
import memcap.signal as msig

WAIT = 20.0  # seconds: the bound of every wait, never a measure of speed


class Signals(unittest.TestCase):
    def test_realtime_signals_arrive_all_in_order_with_payload_and_sender(self):
        n = 500
        sig = msig.SIGRTMIN + 2
        got, done = [], threading.Event()
        main = threading.get_ident()

        def handler(info):
            got.append((info.signal, info.value, info.pid, info.uid, threading.get_ident()))
            if len(got) == n:
                done.set()

        ctx = memcap.Context()
        msig.register(sig, handler, context=ctx)
        try:
            for i in range(n):
                msig.send(os.getpid(), sig, value=i * 1000003, context=ctx)
            self.assertTrue(done.wait(WAIT), f"{len(got)} of {n} signals arrived in {WAIT} s")
        finally:
            msig.unregister(sig, context=ctx)
        self.assertEqual([g[1] for g in got], [i * 1000003 for i in range(n)])
        self.assertTrue(all(g[0] == sig and g[2] == os.getpid() and g[3] == os.getuid()
                            for g in got))
        self.assertTrue(all(g[4] != main for g in got), "handlers ran on the main thread")

    def test_handler_runs_while_the_main_thread_is_blocked_in_a_system_call(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)

        def handler(info):
            os.write(w, b"!")

        msig.register("SIGUSR1", handler)
        self.addCleanup(msig.unregister, "SIGUSR1")
        threading.Timer(0.05, msig.send, (os.getpid(), msig.SIGUSR1)).start()
        ready, _, _ = select.select([r], [], [], WAIT)
        self.assertTrue(ready, "the handler did not run while the main thread waited")
        self.assertEqual(os.read(r, 1), b"!")

    def test_values_negative_and_64_bit(self):
        sig = msig.SIGRTMIN + 3
        seen, done = [], threading.Event()
        def handler(info):
            seen.append(info.value)
            if len(seen) == 3:
                done.set()

        msig.register(sig, handler)
        try:
            for v in (2**64 - 1, 0, -5):
                msig.send(os.getpid(), sig, value=v)
            self.assertTrue(done.wait(WAIT), seen)
        finally:
            msig.unregister(sig)
        self.assertEqual(seen[:2], [2**64 - 1, 0])
        self.assertEqual(seen[2] & 0xFFFFFFFF, (-5) & 0xFFFFFFFF)
        for bad in (2**64, -2**31 - 1):
            with self.assertRaises(OverflowError):
                msig.send(os.getpid(), sig, value=bad)
        with self.assertRaises(TypeError):
            msig.send(os.getpid(), sig, value="1")

    def test_wait_times_out_and_takes_a_signal(self):
        sig = msig.SIGRTMIN + 4
        with self.assertRaises(TimeoutError) as cm:
            msig.wait([sig], timeout=0.01)
        self.assertIsInstance(cm.exception, memcap.TimedOut)
        self.assertEqual(cm.exception.code, "core.signal.TimedOut")
        prev = msig.mask([sig])
        try:
            msig.send(os.getpid(), sig, value=77)
            info = msig.wait([sig], timeout=WAIT)
        finally:
            msig.unmask(prev)
        self.assertEqual((info.signal, info.value, info.pid), (sig, 77, os.getpid()))
        with self.assertRaises(ValueError):
            msig.wait([sig], timeout=-1)
        with self.assertRaises(memcap.InvalidSignal):
            msig.wait([9], timeout=0)

    def test_fd_and_dispatch_in_an_asyncio_loop(self):
        ctx = memcap.Context()
        sig = msig.SIGRTMIN + 5
        calls = []

        async def main():
            loop = asyncio.get_running_loop()
            done = loop.create_future()

            def handler(info):
                calls.append((info.value, threading.get_ident()))
                if len(calls) == 3 and not done.done():
                    done.set_result(None)

            msig.register(sig, handler, context=ctx)
            fd = msig.fd(ctx)
            loop.add_reader(fd, msig.dispatch, ctx)
            for v in range(3):
                msig.send(os.getpid(), sig, value=v, context=ctx)
            try:
                await asyncio.wait_for(done, WAIT)
            finally:
                loop.remove_reader(fd)
                msig.unregister(sig, context=ctx)

        asyncio.run(main())
        self.assertEqual([c[0] for c in calls], [0, 1, 2])
        self.assertTrue(all(c[1] == threading.get_ident() for c in calls),
                        "dispatch() must run the handlers in the loop's thread")

    def test_policy_and_bad_input(self):
        ctx = memcap.Context(policy={"allowed_signals": ["SIGUSR1"]})
        with self.assertRaises(memcap.PolicyViolation) as cm:
            msig.send(os.getpid(), msig.SIGUSR2, context=ctx)
        self.assertEqual(cm.exception.code, "core.signal.PolicyViolation")
        self.assertIn("allowed_signals", str(cm.exception))
        ctx2 = memcap.Context(policy={"allowed_signal_targets": ["self"]})
        with self.assertRaises(memcap.PolicyViolation):
            msig.send(1, msig.SIGUSR1, context=ctx2)
        with self.assertRaises(memcap.InvalidSignal):
            msig.register("SIGKILL", print)
        with self.assertRaises(memcap.InvalidSignal):
            msig.register("SIGSEGV", print)
        with self.assertRaises(memcap.InvalidSignal):
            msig.register("NOSUCH", print)
        with self.assertRaises(TypeError):
            msig.register("SIGUSR1", 42)
        with self.assertRaises(ValueError):
            msig.register(0, print)
        with self.assertRaises(memcap.NotFound):
            msig.unregister("SIGUSR2")
        self.assertEqual(msig.name(msig.SIGRTMIN + 1), "SIGRTMIN+1")
        self.assertEqual(msig.from_name("USR1"), msig.SIGUSR1)

    def test_handler_actions_and_audit(self):
        records = []
        ctx = memcap.Context(audit=records.append)
        seen = threading.Event()

        def handler(info):
            seen.set()
            return msig.IGNORE

        msig.register("SIGUSR2", handler, context=ctx)
        try:
            msig.raise_signal("SIGUSR2", context=ctx)
            self.assertTrue(seen.wait(WAIT), "the handler never ran")
        finally:
            msig.unregister("SIGUSR2", context=ctx)
        deadline = time.monotonic() + WAIT
        while "signal_deliver" not in [r["operation"] for r in records]:
            self.assertLess(time.monotonic(), deadline, records)
            time.sleep(0.01)
        ops = [r["operation"] for r in records]
        for op in ("signal_register", "signal_raise", "signal_deliver", "signal_unregister"):
            self.assertIn(op, ops)

    def test_coexists_with_the_standard_signal_module(self):
        import signal as std
        hits, ev = [], threading.Event()
        old = std.signal(std.SIGUSR1, lambda s, f: hits.append(("std", threading.get_ident())))
        self.addCleanup(std.signal, std.SIGUSR1, old)

        def mine(info):
            hits.append(("memcap", threading.get_ident()))
            ev.set()

        msig.register("SIGUSR1", mine)
        try:
            msig.send(os.getpid(), "SIGUSR1")
            self.assertTrue(ev.wait(WAIT), "memcap's handler never ran")
            deadline = time.monotonic() + WAIT
            while len(hits) < 2:  # the standard handler runs between bytecodes of this thread
                self.assertLess(time.monotonic(), deadline, hits)
                time.sleep(0.001)
            self.assertEqual([h[0] for h in hits], ["memcap", "std"])
            self.assertNotEqual(hits[0][1], threading.get_ident())
            self.assertEqual(hits[1][1], threading.get_ident())
        finally:
            msig.unregister("SIGUSR1")
        self.assertIs(std.getsignal(std.SIGUSR1).__class__, type(lambda: 0),
                      "unregister() gives the signal back to the standard module")
        hits.clear()
        os.kill(os.getpid(), std.SIGUSR1)
        deadline = time.monotonic() + WAIT
        while not hits:
            self.assertLess(time.monotonic(), deadline, "the standard handler never ran")
            time.sleep(0.001)
        self.assertEqual(hits[0][0], "std")

    def test_terminate_ends_the_process_with_the_signal(self):
        pid = os.fork()
        if pid == 0:
            try:
                msig.register("SIGTERM", lambda i: msig.TERMINATE)
                msig.send(os.getpid(), "SIGTERM")
                time.sleep(WAIT)
            finally:
                os._exit(3)
        deadline = time.monotonic() + WAIT
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            self.assertLess(time.monotonic(), deadline, "the child did not end")
            time.sleep(0.01)
        self.assertTrue(os.WIFSIGNALED(status), status)
        self.assertEqual(os.WTERMSIG(status), msig.SIGTERM)


if __name__ == "__main__":
    unittest.main()
