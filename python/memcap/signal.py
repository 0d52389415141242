# SPDX-License-Identifier: MIT
"""memcap.signal: signal handlers that run on memcap's dispatcher thread, without loss.

    import memcap.signal as msig
    msig.register(msig.SIGRTMIN + 1, lambda info: print(info.value, info.pid))
    msig.send(os.getpid(), msig.SIGRTMIN + 1, value=42)

Handlers run in memcap's dispatcher thread, which takes the GIL to call them: they run while
the main thread is blocked in a system call or busy in C code, not only between its
bytecodes. Every realtime signal sent is one call, in order, with its own value and sender
(the kernel queues them; nothing is merged). A handler gets a SignalInfo (signal, pid, uid,
timestamp in ns, value, code, status) and returns None (or CONTINUE), IGNORE, or TERMINATE
(end the process with the signal's default action).

For asyncio, handlers can run in the event loop's thread instead:

    loop.add_reader(msig.fd(), msig.dispatch)

Coexistence with the standard signal module: register() replaces the disposition of that
signal and remembers the one it replaced. When memcap's handler returns None (CONTINUE), the
replaced handler runs too - a handler of the standard module then runs in the main thread as
before; IGNORE stops that. unregister() puts the replaced disposition back. A signal.signal()
call for a signal memcap handles takes it away from memcap. wait() must not be used for a
signal that has a handler (memcap.InvalidArgument). Every operation is checked by the
context's policy (allowed_signals, allowed_signal_targets) and audited.
"""

import atexit as _atexit
import collections as _collections
import os as _os
import signal as _std_signal

from . import _memcap

__all__ = ["SignalInfo", "register", "unregister", "send", "raise_signal", "wait", "mask",
           "unmask", "fd", "dispatch", "from_name", "name", "CONTINUE", "TERMINATE", "IGNORE",
           "SIGRTMIN", "SIGRTMAX"]

#: What a handler returns.
CONTINUE = _memcap.SIGNAL_CONTINUE
TERMINATE = _memcap.SIGNAL_TERMINATE
IGNORE = _memcap.SIGNAL_IGNORE

#: This process's realtime signal range.
SIGRTMIN = _memcap.signal_rt_min()
SIGRTMAX = _memcap.signal_rt_max()

# The standard signal numbers, for convenience: memcap.signal.SIGUSR1 etc.
for _n in dir(_std_signal):
    if _n.startswith("SIG") and not _n.startswith(("SIG_", "SIGRT")):
        globals()[_n] = int(getattr(_std_signal, _n))
del _n

SignalInfo = _collections.namedtuple(
    "SignalInfo", ["signal", "pid", "uid", "timestamp", "value", "code", "status"])
SignalInfo.__doc__ = """One delivered signal.

signal: its number; pid, uid: the sender (0 when the kernel sent it); timestamp: when memcap
received it (CLOCK_REALTIME ns); value: the sigqueue value (None for kill); code: si_code;
status: SIGCHLD's exit status or signal, else 0."""

_registered = {}  # (id(context), signo) -> context, for the exit hook


def _signo(sig):
    return _memcap.signal_from_name(sig) if isinstance(sig, str) else int(sig)


def _ctx(context):
    return context if context is not None else _memcap.default_context()


def register(sig, handler, *, block=False, context=None):
    """Run handler(info) on memcap's dispatcher thread for every delivery of sig.

    sig: a number or a name ("SIGUSR1", "USR1", "RTMIN+1"). block=True also blocks the
    signal in the calling thread (threads it starts later inherit it): strictly ordered
    delivery. Replaces this context's earlier handler for sig. Raises memcap.InvalidSignal
    for SIGKILL, SIGSTOP and fault signals, memcap.PolicyViolation when the policy forbids.
    """
    if not callable(handler):
        raise TypeError("handler must be callable")
    s = _signo(sig)

    def call(t, _handler=handler):
        return _handler(SignalInfo(*t))

    ctx = _ctx(context)
    _memcap.signal_register(s, call, block, context=ctx)
    _registered[(id(ctx), s)] = ctx


def unregister(sig, *, context=None):
    """Remove the handler; waits for a running call of it to finish. NotFound if none."""
    s = _signo(sig)
    ctx = _ctx(context)
    _memcap.signal_unregister(s, context=ctx)
    _registered.pop((id(ctx), s), None)


def send(pid, sig, value=None, *, context=None):
    """Send sig to pid: kill(2), or sigqueue(3) with value (an int).

    value: 0 .. 2**64-1 (the 64-bit sigval) or a negative 32-bit int. The policy decides
    (allowed_signals, allowed_signal_targets: by default the process itself, its children,
    its process group and the same uid).
    """
    _memcap.signal_send(int(pid), _signo(sig), value, context=_ctx(context))


def raise_signal(sig, *, context=None):
    """Send sig to the calling thread (raise(3)), policy-checked and audited."""
    _memcap.signal_raise(_signo(sig), context=_ctx(context))


def wait(sigs, timeout=None, *, context=None):
    """Wait for one of sigs and take it; returns its SignalInfo.

    The signals are blocked in the calling thread during the wait. timeout: seconds (float)
    or None for ever; at the timeout raises TimeoutError (memcap.TimedOut).
    """
    if isinstance(sigs, (int, str)):
        sigs = [sigs]
    return SignalInfo(*_memcap.signal_wait([_signo(s) for s in sigs], timeout,
                                           context=_ctx(context)))


def mask(sigs, *, context=None):
    """Block sigs in the calling thread; returns the previous mask (a list) for unmask()."""
    return _memcap.signal_mask([_signo(s) for s in sigs], context=_ctx(context))


def unmask(previous, *, context=None):
    """Set the calling thread's mask back to what mask() returned."""
    _memcap.signal_unmask(list(previous), context=_ctx(context))


def fd(context=None):
    """A descriptor readable when deliveries wait: from now on the context's handlers run only
    in dispatch() (e.g. loop.add_reader(fd(), dispatch))."""
    return _memcap.signal_fd(context=_ctx(context))


def dispatch(context=None):
    """Run the handlers of waiting deliveries in this thread; returns how many ran."""
    return _memcap.signal_dispatch(context=_ctx(context))


def from_name(sig):
    """The number of a signal name ("SIGUSR1", "USR1", "RTMIN+3") or number."""
    return _memcap.signal_from_name(sig)


def name(signo):
    """The canonical name of a signal number ("SIGUSR1", "SIGRTMIN+3")."""
    return _memcap.signal_name(int(signo))


@_atexit.register
def _unregister_all():
    # The dispatcher thread must not call into an interpreter that is shutting down.
    for (_, s), ctx in list(_registered.items()):
        try:
            _memcap.signal_unregister(s, context=ctx)
        except OSError:
            pass
    _registered.clear()


if hasattr(_os, "register_at_fork"):
    # memcap resets its signal state in a fork() child; so must this module's bookkeeping.
    _os.register_at_fork(after_in_child=_registered.clear)
