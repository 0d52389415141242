# SPDX-License-Identifier: MIT
"""memcap.mmap: a drop-in for the standard mmap module.

    import memcap.mmap as mmap          # or: sys.modules["mmap"] = memcap.mmap

The class, constants, methods, slicing, buffer protocol, context manager and exceptions are
the standard module's (CPython's own test_mmap.py runs against this module). What it adds:

- Reads, writes, slicing, find/rfind, readline, move and flush go through memcap's guarded
  access: a file truncated under the mapping raises memcap.IoError (an OSError) instead of
  killing the process with SIGBUS. The buffer protocol (memoryview, re, hashlib) hands out
  the memory itself and is not guarded.
- Every mapping is made, resized, advised, synced and closed through a memcap Context, so its
  policy decides and its audit sink records: pass context=, or policy= and/or audit= to make
  a new one (see memcap.Context); otherwise memcap.default_context() is used.
- Write+execute (PROT_WRITE|PROT_EXEC) and MAP_FIXED are refused by default
  (memcap.PolicyViolation) unless the policy allows them.
- Anonymous MAP_SHARED memory is a memfd region (shared with fork() children, as before).
"""

from . import _memcap as _c
from ._memcap import mmap, PAGESIZE, ALLOCATIONGRANULARITY  # noqa: F401

#: The standard module's error: OSError. memcap's own errors subclass it.
error = OSError

for _name in dir(_c):
    if _name.startswith(("ACCESS_", "PROT_", "MAP_", "MADV_")):
        globals()[_name] = getattr(_c, _name)
del _name

__all__ = ["mmap", "error", "PAGESIZE", "ALLOCATIONGRANULARITY"] + sorted(
    n for n in dir(_c) if n.startswith(("ACCESS_", "PROT_", "MAP_", "MADV_")))
