#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""memcap's zsh completion as zsh runs it: an interactive zsh in a pty (completion only runs in
the line editor), compinit with the completion directory first in $fpath, then a partial word
and TAB. A word that completes to one candidate is inserted, so the completed text appearing
on the terminal is what zsh offered. Prints one "ok"/"not ok" line per check, for
check-completion.sh to number; every wait is bounded.

Usage: check-completion-zsh.py COMPLETION_DIR MEMCAP_DIR
"""
import os
import pty
import re
import select
import signal
import sys
import time

# Typed, then what the line reads after TAB.
CHECKS = [
    ("zsh: the commands", "memcap sig", "memcap signal "),
    ("zsh: signal's subcommands", "memcap signal wa", "memcap signal wait "),
    ("zsh: signal names with SIG", "memcap signal wait SIGTER", "memcap signal wait SIGTERM "),
    ("zsh: signal names", "memcap signal list WINC", "memcap signal list WINCH "),
    ("zsh: client verbs", "memcap client ses", "memcap client session "),
    ("zsh: maps -x", "memcap maps --ext", "memcap maps --extended "),
]
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|[\r\x07\x08]")


def main():
    comp_dir, memcap_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["PATH"] = memcap_dir + ":" + os.environ.get("PATH", "")
        os.environ["TERM"] = "dumb"
        os.execvp("zsh", ["zsh", "-f", "-i"])

    def read_until(pattern, seconds):
        """The terminal's text (escapes removed) once it matches @pattern, or None."""
        raw = b""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return None
            if not chunk:
                return None
            raw += chunk
            text = ESCAPES.sub("", raw.decode("utf-8", "replace"))
            if re.search(pattern, text):
                return text
        return None

    try:
        os.write(fd, (f"fpath=({comp_dir} $fpath); autoload -Uz compinit; compinit -u -D;"
                      " echo SET''UP-DONE\n").encode())
        if read_until("SETUP-DONE", 30) is None:
            print("not ok - zsh: compinit did not finish within 30 s")
            return 1
        failed = 0
        for i, (what, typed, want) in enumerate(CHECKS):
            os.write(fd, (typed + "\t").encode())
            if read_until(re.escape(want), 10) is not None:
                print(f"ok - {what}")
            else:
                failed = 1
                print(f"not ok - {what}: '{typed}' + TAB did not give '{want}' within 10 s")
            # A fresh line for the next check: ^U empties this one (^C would make the terminal
            # drop what is typed next), and an echo whose output comes back says zsh is there.
            os.write(fd, f"\x15echo DONE''-{i}\n".encode())
            if read_until(f"DONE-{i}", 30) is None:
                print(f"not ok - zsh: no prompt within 30 s after '{typed}'")
                return 1
        return failed
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
