"""Run the unittest file PATTERN of directory DIR (one meson test per
file), the way `python -m unittest discover -s DIR -t DIR -p PATTERN -v`
does, with meson's exit statuses: 0 passed, 1 failed, 77 skipped (every
test of the file skipped, e.g. a library or an interpreter that is not
there; Python 3.12's unittest would exit 5, which meson counts as a
failure).

    python run_unittest.py DIR PATTERN
"""

import sys
import unittest


def main():
    directory, pattern = sys.argv[1], sys.argv[2]
    suite = unittest.TestLoader().discover(directory, pattern=pattern, top_level_dir=directory)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if not result.wasSuccessful():
        return 1
    ran = result.testsRun
    if sys.version_info < (3, 12):  # skipped tests were counted as run
        ran -= len(result.skipped)
    # (<= 0: a setUpModule that skips counts as a skip but not as run)
    if ran <= 0:
        print("%s: every test skipped (see the reasons above)" % pattern)
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
