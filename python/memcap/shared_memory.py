# SPDX-License-Identifier: MIT
"""memcap.shared_memory: SharedMemory and ShareableList, as multiprocessing.shared_memory.

    from memcap.shared_memory import SharedMemory, ShareableList

SharedMemory(name=None, create=False, size=0) behaves as the standard class: a named POSIX
shared memory object that other processes attach to by name (or by unpickling), .buf a
memoryview of it, close() and unlink(). It is opened through a memcap Context
(mc_shared_open): the policy's allowed_shared_memory patterns and memory quota decide, the
audit log records open, close and unlink with the object's owner, and sizes are allocated
with fallocate, so a full /dev/shm fails at creation instead of raising SIGBUS later.

What it adds:
- .owner ("Local" when this process created the object, else "Remote") and .owner_pid (the
  creator's pid, 0 when unknown);
- anonymous=True: a memfd region instead of a named object. It has no name, so it cannot be
  attached to by name or pickled; fork() children inherit it, and it can be sealed
  (seal(SEAL_SHRINK | SEAL_GROW ...)) so nobody can shrink it under a mapping;
- context=, policy=, audit= as everywhere in memcap.

Unlike the standard class, segments are not registered with multiprocessing's resource
tracker: nothing unlinks a segment behind your back when some process exits. Unlink what you
create (or use it as a context manager with unlink_on_exit=True).
"""

import os
import secrets
from multiprocessing import shared_memory as _std

from . import _memcap

__all__ = ["SharedMemory", "ShareableList", "SEAL_SHRINK", "SEAL_GROW", "SEAL_WRITE",
           "SEAL_FUTURE_WRITE", "SEAL_SEAL"]

SEAL_SHRINK = _memcap.SEAL_SHRINK
SEAL_GROW = _memcap.SEAL_GROW
SEAL_WRITE = _memcap.SEAL_WRITE
SEAL_FUTURE_WRITE = _memcap.SEAL_FUTURE_WRITE
SEAL_SEAL = _memcap.SEAL_SEAL

# As the standard module names its segments, so tools that look for them find these too.
_SHM_SAFE_NAME_LENGTH = 14
_SHM_NAME_PREFIX = "/psm_"
_USE_POSIX = True
_O_CREX = os.O_CREAT | os.O_EXCL


def _make_filename():
    """A random name for a new segment ("/psm_" and hex digits, 14 characters)."""
    nbytes = (_SHM_SAFE_NAME_LENGTH - len(_SHM_NAME_PREFIX)) // 2
    return _SHM_NAME_PREFIX + secrets.token_hex(nbytes)


class SharedMemory:
    """Shared memory through memcap; see the module's documentation."""

    # The standard class's open flags: O_CREAT | O_RDWR without O_EXCL in a subclass means
    # "attach, or create when missing".
    _flags = os.O_RDWR
    _shm = None
    _buf = None
    _name = None

    def __init__(self, name=None, create=False, size=0, *, anonymous=False, unlink_on_exit=False,
                 context=None, policy=None, audit=None):
        """Create (create=True) or attach to (create=False) a segment.

        name: the segment's name (a leading '/' is optional); None with create=True picks a
        free random name. size: bytes, > 0 when creating; ignored when attaching (the
        segment's own size is used). anonymous=True: a memfd region (create only, no name).
        unlink_on_exit: unlink when leaving a with-block. Raises ValueError for bad sizes and
        names, FileExistsError (memcap.AlreadyExists), FileNotFoundError (memcap.NotFound),
        memcap.PolicyViolation when the policy forbids the name or the quota is exceeded.
        """
        if not size >= 0:
            raise ValueError("'size' must be a positive integer")
        if create:
            if size == 0:
                raise ValueError("'size' must be a positive number different from zero")
        if name is None and not create:
            raise ValueError("'name' can only be None if create=True")
        if anonymous and (name is not None or not create):
            raise ValueError("anonymous=True creates a region without a name: use "
                             "create=True and no name")
        kw = dict(context=context, policy=policy, audit=audit)
        self._unlink_on_exit = unlink_on_exit
        if anonymous:
            self._shm = _memcap.Shared(None, True, size, **kw)
            self._name = None
        elif name is None:
            while True:
                candidate = _make_filename()
                try:
                    self._shm = _memcap.Shared(candidate, True, size, **kw)
                except FileExistsError:
                    continue
                self._name = candidate
                break
        else:
            self._name = name if name.startswith("/") else "/" + name
            exclusive = create or (self._flags & _O_CREX) == _O_CREX
            may_create = create or bool(self._flags & os.O_CREAT)
            if exclusive:
                self._shm = _memcap.Shared(self._name, True, size, **kw)
            else:
                try:
                    self._shm = _memcap.Shared(self._name, False, 0, **kw)
                except FileNotFoundError:
                    if not may_create or size <= 0:
                        raise
                    self._shm = _memcap.Shared(self._name, True, size, **kw)
        self._size = self._shm.size
        self._buf = memoryview(self._shm)

    def __del__(self):
        try:
            self.close()
        except (OSError, BufferError):
            pass

    def __reduce__(self):
        if self._name is None:
            raise TypeError("an anonymous SharedMemory has no name and cannot be pickled; "
                            "pass its fd to the other process instead")
        return (self.__class__, (self.name, False, self.size))

    def __repr__(self):
        return f"{self.__class__.__name__}({self.name!r}, size={self.size})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        if self._unlink_on_exit and self._name is not None:
            self.unlink()

    @property
    def buf(self):
        """A memoryview of the segment's bytes."""
        return self._buf

    @property
    def name(self):
        """The segment's name without its leading '/' (None when anonymous)."""
        if self._name is None:
            return None
        return self._name[1:]

    @property
    def size(self):
        """The segment's size in bytes."""
        return self._size

    @property
    def owner(self):
        """'Local' when this process created the segment (or it is anonymous), else 'Remote'."""
        return self._shm.owner if self._shm is not None else None

    @property
    def owner_pid(self):
        """The creator's pid; 0 when it is not known (a segment made without memcap)."""
        return self._shm.owner_pid if self._shm is not None else 0

    @property
    def fd(self):
        """The segment's file descriptor (owned by this object; -1 once closed)."""
        return self._shm.fd if self._shm is not None else -1

    @property
    def seals(self):
        """The seals on an anonymous region (SEAL_* bits); 0 for named segments."""
        return self._shm.seals

    def seal(self, seals):
        """Add SEAL_* seals to an anonymous region (memcap.Unsupported for named ones)."""
        self._shm.seal(seals)

    def close(self):
        """Release this process's view (audited). The segment stays until unlink()."""
        if self._buf is not None:
            self._buf.release()
            self._buf = None
        if self._shm is not None:
            self._shm.close()

    def unlink(self):
        """Remove the segment's name (audited, with its owner); mappings stay valid.

        FileNotFoundError (memcap.NotFound) when it is gone already.
        """
        if self._name is None:
            raise ValueError("an anonymous SharedMemory has no name to unlink")
        _memcap.shared_unlink(self._name, context=self._shm.context)


def _shareable_list_class():
    """ShareableList with the standard class's code and layout, over memcap's SharedMemory.

    The standard class creates and attaches its segment through its module's SharedMemory;
    its constructor is rebound to a namespace where that name is memcap's, so lists made
    here and by multiprocessing.shared_memory read each other's segments.
    """
    std_init = _std.ShareableList.__init__
    namespace = dict(std_init.__globals__)
    namespace["SharedMemory"] = SharedMemory
    init = type(std_init)(std_init.__code__, namespace, std_init.__name__,
                          std_init.__defaults__, std_init.__closure__)
    init.__kwdefaults__ = std_init.__kwdefaults__
    init.__doc__ = ("ShareableList(sequence=None, *, name=None): a fixed-length list of int, "
                    "float, bool, str, bytes and None in shared memory, compatible with "
                    "multiprocessing.shared_memory.ShareableList.")
    return type("ShareableList", (_std.ShareableList,), {
        "__init__": init,
        "__module__": __name__,
        "__doc__": init.__doc__,
    })


ShareableList = _shareable_list_class()
