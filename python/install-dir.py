# SPDX-License-Identifier: MIT
"""Print where the memcap package installs: the first of Meson's choice and the usual
dist-packages/site-packages directories under the prefix that the interpreter searches."""

import sys

prefix, default = sys.argv[1], sys.argv[2]
version = "%d.%d" % sys.version_info[:2]
candidates = (default, f"{prefix}/lib/python{version}/dist-packages",
              f"{prefix}/lib/python{version}/site-packages")
print(next((d for d in candidates if d in sys.path), default))
