# SPDX-License-Identifier: MIT
"""Run unittest tests and report each as a TAP line, so meson (and .ci/run) count every case.

    python3 tap.py MODULE [MODULE...]       the tests of importable modules
    tap.run(suite)                          from a runner script; returns the exit status

A skipped test is "ok N - name # SKIP reason"; a failure or error prints its traceback as TAP
comments. The plan comes last, when the number of cases is known.
"""

import os
import sys
import tempfile
import traceback
import unittest


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, extra=""):
        self.n += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} - {test.id()}{extra}", flush=True)

    def _diag(self, err):
        for line in "".join(traceback.format_exception(*err)).splitlines():
            print("# " + line)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        self._diag(err)

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        self._diag(err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, f" # SKIP {reason}")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test, " # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test, " # unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._line(False, subtest)
            self._diag(err)


def run(suite, workdir=True):
    """Run @suite in a fresh temporary directory; print TAP; return 0 when all passed."""
    print("TAP version 13", flush=True)
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="memcap-pytest-") as d:
        if workdir:
            os.chdir(d)
        try:
            result = TapResult()
            suite.run(result)
        finally:
            os.chdir(old)
    print(f"1..{result.n}")
    print(f"# ran {result.testsRun}, failures {len(result.failures)}, errors "
          f"{len(result.errors)}, skipped {len(result.skipped)}", flush=True)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite(loader.loadTestsFromName(m) for m in sys.argv[1:])
    sys.exit(run(suite))
