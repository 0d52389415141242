# SPDX-License-Identifier: MIT
"""CPython's own Lib/test/test_mmap.py, against memcap.mmap or (for comparison) the stdlib.

    python3 run-cpython-test-mmap.py memcap     sys.modules["mmap"] = memcap.mmap first
    python3 run-cpython-test-mmap.py stdlib     the standard module, the reference

The test suite comes from Debian's libpython3.11-testsuite (tools/install-deps.sh installs
it), which matches /usr/bin/python3 only.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402

which = sys.argv[1] if len(sys.argv) > 1 else "memcap"
if which == "memcap":
    import memcap.mmap
    sys.modules["mmap"] = memcap.mmap
elif which != "stdlib":
    sys.exit(f"usage: {sys.argv[0]} memcap|stdlib")

try:
    from test import test_mmap
except ImportError as e:
    print(f"1..0 # SKIP CPython's test suite is not installed ({e}); "
          "install libpython3.11-testsuite")
    sys.exit(0)

if which == "memcap":
    # The point of the run: the suite must be exercising memcap's module, not the stdlib's.
    assert test_mmap.mmap is memcap.mmap, test_mmap.mmap
    assert test_mmap.mmap.mmap.__module__.startswith("memcap"), test_mmap.mmap.mmap

suite = unittest.defaultTestLoader.loadTestsFromModule(test_mmap)
sys.exit(tap.run(suite))
