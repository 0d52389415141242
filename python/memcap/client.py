# SPDX-License-Identifier: MIT
"""memcap.client: a client of memcapd, the mapping broker (docs/protocol.md).

    with memcap.client.Client("/run/memcap/memcapd.sock") as c:
        i = c.mmap("/data/f", prot=3, shared=True)
        c.write(i, 0, b"Hello")
        assert c.read(i, 0, 5) == b"Hello"
        m = c.fd(i)          # a memcap.mmap.mmap of the passed descriptor: zero-copy
        c.munmap(i)

One connection, one request at a time (replies come in request order). Error replies raise
the exception of their kind (memcap.NotFound, memcap.PolicyViolation, memcap.IoError, ...)
with .kind, .code and .errno from the reply; a missing capability ("permission_denied")
raises memcap.PermissionDenied. Bytes travel as base64; bulk data should use fd().
"""

import base64
import json
import os
import socket

from . import _memcap
from . import mmap as _mmap

__all__ = ["Client", "PROT_READ", "PROT_WRITE", "PROT_EXEC"]

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4

_KIND_CLASS = {
    "PermissionDenied": _memcap.PermissionDenied, "InvalidArgument": _memcap.InvalidArgument,
    "OutOfMemory": _memcap.OutOfMemory, "AlignmentError": _memcap.AlignmentError,
    "AlreadyExists": _memcap.AlreadyExists, "NotFound": _memcap.NotFound,
    "Unsupported": _memcap.Unsupported, "PolicyViolation": _memcap.PolicyViolation,
    "TimedOut": _memcap.TimedOut, "InvalidSignal": _memcap.InvalidSignal,
    "Io": _memcap.IoError, "PeerGone": _memcap.PeerGone,
}


def _error(reply):
    kind = reply.get("kind", "Io")
    cls = _KIND_CLASS.get(kind, _memcap.Error)
    message = reply.get("message") or reply.get("reason") or "memcapd refused the request"
    exc = cls(reply.get("errno", 0), message)
    exc.kind = kind
    exc.code = reply.get("code", _memcap.error_code(kind) if kind in _KIND_CLASS else None)
    exc.message = message
    return exc


class Client:
    """A connection to memcapd.

    socket_path: the daemon's socket. timeout: seconds to wait for the connection and for
    each reply (None waits for ever). Use as a context manager, or call close().
    """

    _MAX_LINE = 64 << 20

    def __init__(self, socket_path, timeout=30.0):
        # Set first: __del__ runs close() also when connecting fails.
        self._buf = b""
        self._fds = []
        self._sock = None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(os.fspath(socket_path))
        except BaseException:
            sock.close()
            raise
        self._sock = sock

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except OSError:
            pass

    def close(self):
        """Close the connection (the daemon keeps this process's mappings until it exits)."""
        for fd in self._fds:
            os.close(fd)
        self._fds = []
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _line(self):
        """The next reply line, collecting descriptors that arrive with the bytes."""
        while b"\n" not in self._buf:
            if len(self._buf) > self._MAX_LINE:
                raise _memcap.InvalidArgument(0, "memcapd reply longer than 64 MiB")
            data, fds, _, _ = socket.recv_fds(self._sock, 1 << 16, 16)
            self._fds.extend(fds)
            if not data:
                raise ConnectionError("memcapd closed the connection")
            self._buf += data
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def call(self, name, **fields):
        """Send one request {name: fields} and return its reply as a dict (raises on errors)."""
        if self._sock is None:
            raise ValueError("the client is closed")
        self._sock.sendall(json.dumps({name: fields}, separators=(",", ":")).encode() + b"\n")
        reply = json.loads(self._line())
        status = reply.get("status")
        if status == "success":
            return reply
        if status == "permission_denied":
            exc = _memcap.PermissionDenied(1, reply.get("reason", "permission denied"))
            exc.kind = "PermissionDenied"
            exc.code = reply.get("code", "core.memory.PermissionDenied")
            exc.message = reply.get("reason", "")
            raise exc
        raise _error(reply)

    def hello(self):
        """The daemon's identity and this connection's capabilities (a dict)."""
        return self.call("Hello")["data"]

    def mmap(self, path=None, length=None, prot=PROT_READ, shared=False, offset=0):
        """Map a file beneath the daemon's root (or anonymous memory with path None and a
        length); returns the mapping id."""
        fields = {"prot": prot, "shared": bool(shared)}
        if path is not None:
            fields["path"] = os.fspath(path)
            if offset:
                fields["offset"] = offset
        if length is not None:
            fields["length"] = length
        return self.call("Mmap", **fields)["mmap_id"]

    def read(self, mmap_id, offset, length):
        """length bytes at offset of the mapping, as bytes."""
        data = self.call("MmapRead", mmap_id=mmap_id, offset=offset, length=length,
                         encoding="base64")["data"]
        return base64.b64decode(data, validate=True)

    def write(self, mmap_id, offset, data):
        """Write bytes-like data at offset of the mapping."""
        self.call("MmapWrite", mmap_id=mmap_id, offset=offset,
                  data=base64.b64encode(bytes(data)).decode("ascii"), encoding="base64")

    def msync(self, mmap_id):
        """msync(MS_SYNC) the mapping to its file."""
        self.call("Msync", mmap_id=mmap_id)

    def munmap(self, mmap_id):
        """Unmap the mapping; its id is never used again."""
        self.call("Munmap", mmap_id=mmap_id)

    def mprotect(self, mmap_id, prot):
        """Change the mapping's protection."""
        self.call("Mprotect", mmap_id=mmap_id, prot=prot)

    def stats(self, mmap_id):
        """Describe one mapping (a dict: id, path, offset, length, prot, flags, owner_pid)."""
        return self.call("MmapStats", mmap_id=mmap_id)["data"]

    def list(self, all=False):
        """This process's mappings (or every client's with all=True: needs SystemInfo)."""
        return self.call("MmapList", **({"all": True} if all else {}))["data"]

    def fd(self, mmap_id, context=None):
        """Map the mapping's file descriptor here: a memcap.mmap.mmap (shared, read-only or
        read-write as the descriptor allows), positioned at the mapping's first byte.

        The mapping starts at the page boundary at or before the mapping's offset; its
        position (tell()) is where the mapping's data begins. Needs FdPass.
        """
        before = len(self._fds)
        reply = self.call("MmapFd", mmap_id=mmap_id)
        if len(self._fds) <= before:
            raise ConnectionError("memcapd's MmapFd reply carried no descriptor")
        fd = self._fds.pop(before)
        try:
            offset, length = reply["offset"], reply["length"]
            skip = offset % _memcap.PAGESIZE
            access = _mmap.ACCESS_WRITE if reply.get("writable") else _mmap.ACCESS_READ
            m = _mmap.mmap(fd, length + skip, access=access, offset=offset - skip,
                           context=context)
        finally:
            os.close(fd)
        m.seek(skip)
        return m
