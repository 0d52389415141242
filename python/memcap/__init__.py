# SPDX-License-Identifier: MIT
"""memcap for Python: capability-checked, audited memory mappings, shared memory and signals.

Submodules:
    memcap.mmap            a drop-in for the standard mmap module
    memcap.shared_memory   SharedMemory and ShareableList, as multiprocessing.shared_memory
    memcap.signal          handlers on memcap's dispatcher thread, send, wait, mask, fd()
    memcap.client          a client of memcapd, the mapping broker

Every mapping, shared memory object and signal operation goes through a Context: its policy
decides (write+execute and MAP_FIXED are refused by default), its audit sink records. Objects
use memcap.default_context() unless given context= (or policy=/audit= to make one).

Errors are exceptions named after memcap's error kinds, subclasses of memcap.Error (an
OSError) and of the builtin that fits: PolicyViolation and PermissionDenied are
PermissionError, NotFound is FileNotFoundError, AlreadyExists FileExistsError, TimedOut
TimeoutError, InvalidArgument, AlignmentError and InvalidSignal ValueError, OutOfMemory
MemoryError, PeerGone ConnectionError; IoError (a file truncated under a mapping) and
Unsupported are plain memcap.Error. Each carries .kind ("PolicyViolation"), .code ("core.memory.PolicyViolation"),
.errno and .message.
"""

from ._memcap import (  # noqa: F401
    PAGESIZE,
    __version__,
    AlignmentError,
    AlreadyExists,
    Context,
    Error,
    InvalidArgument,
    InvalidSignal,
    IoError,
    NotFound,
    OutOfMemory,
    PeerGone,
    PermissionDenied,
    PolicyViolation,
    TimedOut,
    Unsupported,
    default_context,
    error_code,
    set_default_context,
)

__all__ = [
    "PAGESIZE", "AlignmentError", "AlreadyExists", "Context", "Error", "InvalidArgument",
    "InvalidSignal", "IoError", "NotFound", "OutOfMemory", "PeerGone", "PermissionDenied",
    "PolicyViolation", "TimedOut", "Unsupported", "default_context", "error_code",
    "set_default_context", "mmap", "shared_memory", "signal", "client",
]

from . import mmap, shared_memory, signal, client  # noqa: E402,F401
