#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The manual pages: every page built renders with man(1) without a warning, every function a
public header declares (MC_API) has a page of its own or an alias (.so) to its group's, and
every alias points at a page that exists. Prints TAP."""

import glob
import os
import re
import shutil
import subprocess
import sys

build, headers = sys.argv[1], sys.argv[2]
pages = sorted(glob.glob(os.path.join(build, "*.[0-9]")))
declared = set()
for h in glob.glob(os.path.join(headers, "*.h")):
    text = open(h).read()
    declared |= set([n for n in re.findall(r"MC_API[^;(]*?\b(\w+)\s*\(", text, re.S) if n.startswith("mc_")])

checks = []
have_man = shutil.which("man") is not None
for p in pages:
    name = os.path.basename(p)
    body = open(p).read()
    if body.startswith(".so "):
        target = os.path.join(build, os.path.basename(body.split()[1]))
        checks.append((os.path.exists(target), f"{name} is an alias of a page that exists"))
        continue
    if not have_man:
        checks.append((True, f"{name} renders # SKIP man is not installed"))
        continue
    r = subprocess.run(["man", "--warnings", "-l", p], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
    ok = r.returncode == 0 and r.stderr.strip() == "" and len(r.stdout) > 200
    checks.append((ok, f"{name} renders without warnings" + ("" if ok else ": " + r.stderr.strip()[:300])))
names = {os.path.basename(p).rsplit(".", 1)[0] for p in pages}
for fn in sorted(declared):
    checks.append((fn in names, f"{fn}() has a manual page"))

print("TAP version 13")
print(f"1..{len(checks)}")
for i, (ok, what) in enumerate(checks, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {what}")
sys.exit(0 if all(ok for ok, _ in checks) else 1)
