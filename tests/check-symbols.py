#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""debian/libmemcap0.symbols lists exactly what libmemcap exports, so that an ABI change shows up
in `make test` and not only when the Debian package is built (dh_makeshlibs -c4 fails it there).
Prints TAP. With --update, adds what the library exports and the file lacks (with the version
of meson.build) and drops what it no longer exports; a dropped symbol is an ABI break (NEWS.md).

Usage: check-symbols.py [--update] LIBRARY SYMBOLS_FILE
"""
import os
import re
import subprocess
import sys


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    return {f[2] for f in (line.split() for line in out.splitlines())
            if len(f) == 3 and f[1] in "TDBRVW" and f[2].startswith("mc_")}


def project_version():
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "meson.build")
    with open(top, encoding="utf-8") as f:
        m = re.search(r"^\s*version:\s*'([^']+)'", f.read(), re.M)
    return m.group(1) if m else "0"


def main(argv):
    update = argv[1:2] == ["--update"]
    if update:
        argv = argv[1:]
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    lib, path = argv[1], argv[2]
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    header = [l for l in lines if not l.startswith(" ")]
    listed = {}
    for l in lines:
        m = re.match(r"^ (\S+)@Base (\S+)", l)
        if m:
            listed[m.group(1)] = m.group(2)
    have = exported(lib)
    new, gone = sorted(have - set(listed)), sorted(set(listed) - have)
    if update:
        for s in gone:
            del listed[s]
        for s in new:
            listed[s] = project_version()
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(header) + "\n")
            for s in sorted(listed):
                f.write(f" {s}@Base {listed[s]}\n")
        print(f"{path}: {len(new)} added, {len(gone)} removed")
        return 0
    print("TAP version 13\n1..1")
    if not new and not gone:
        print(f"ok 1 - {os.path.basename(path)} lists the {len(have)} symbols the library exports")
        return 0
    print(f"not ok 1 - {os.path.basename(path)} does not match what the library exports")
    for s in new:
        print(f"# exported but not listed: {s}")
    for s in gone:
        print(f"# listed but no longer exported (an ABI break): {s}")
    print(f"# update it: {sys.argv[0]} --update {lib} {path}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
