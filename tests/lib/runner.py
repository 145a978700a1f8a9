"""Runs the unittest cases of one test file and ends with the plain line
'N passed, N failed' (', N skipped'), exiting non-zero on any failure or error.

Usage: runner.py FILE.py [TestCase.test_name ...]
"""
import importlib.util
import os
import sys
import unittest


def main():
    path = sys.argv[1]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("case", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    loader = unittest.TestLoader()
    if len(sys.argv) > 2:
        suite = loader.loadTestsFromNames(sys.argv[2:], mod)
    else:
        suite = loader.loadTestsFromModule(mod)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    sys.exit(1 if failed or result.testsRun == 0 else 0)


if __name__ == "__main__":
    main()
