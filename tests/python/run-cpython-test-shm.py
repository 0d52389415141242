# SPDX-License-Identifier: MIT
"""The shared memory tests of CPython's _test_multiprocessing.py against memcap.shared_memory.

multiprocessing.shared_memory is replaced by memcap.shared_memory before the test module is
imported, and the tests run with the "fork" start method as test_multiprocessing_fork runs
them. Tests that are about the resource tracker or the SharedMemoryManager server (both the
standard library's own machinery, which memcap's SharedMemory does not register with) cannot
apply and are listed, not run:
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402

import memcap.shared_memory  # noqa: E402  (imports the standard module first)
import multiprocessing  # noqa: E402

RUN = [
    "test_shared_memory_basics",
    "test_shared_memory_recreate",
    "test_invalid_shared_memory_cration",
    "test_shared_memory_pickle_unpickle",
    "test_shared_memory_pickle_unpickle_dead_object",
    "test_shared_memory_across_processes",
    "test_shared_memory_ShareableList_basics",
    "test_shared_memory_ShareableList_pickling",
    "test_shared_memory_ShareableList_pickling_dead_object",
]
NOT_APPLICABLE = {
    "test_shared_memory_SharedMemoryServer_ignores_sigint":
        "the stdlib's SharedMemoryManager server process",
    "test_shared_memory_SharedMemoryManager_reuses_resource_tracker":
        "the stdlib's resource tracker process",
    "test_shared_memory_SharedMemoryManager_basics":
        "multiprocessing.managers.SharedMemoryManager makes the stdlib's SharedMemory",
    "test_shared_memory_cleaned_after_process_termination":
        "the resource tracker unlinking segments at exit, which memcap does not register with",
}

sys.modules["multiprocessing.shared_memory"] = memcap.shared_memory
multiprocessing.shared_memory = memcap.shared_memory
try:
    from test import _test_multiprocessing as tm
except ImportError as e:
    print(f"1..0 # SKIP CPython's test suite is not installed ({e}); "
          "install libpython3.11-testsuite")
    sys.exit(0)
assert tm.shared_memory is memcap.shared_memory, tm.shared_memory

globs = {"__name__": "cpython_shm"}
tm.install_tests_in_module_dict(globs, "fork")
cls = globs["WithProcessesTestSharedMemory"]
known = {n for n in dir(cls) if n.startswith("test_")}
missing = (set(RUN) | set(NOT_APPLICABLE)) - known
unlisted = known - set(RUN) - set(NOT_APPLICABLE)
assert not missing and not unlisted, (missing, unlisted)

suite = unittest.TestSuite(cls(n) for n in RUN)
for name, why in NOT_APPLICABLE.items():
    def not_applicable():
        pass
    not_applicable.__name__ = name
    suite.addTest(unittest.FunctionTestCase(unittest.skip(f"cannot apply: {why}")(not_applicable)))
globs["setUpModule"]()
try:
    status = tap.run(suite)
finally:
    globs["tearDownModule"]()
sys.exit(status)
