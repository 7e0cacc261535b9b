"""Run at start-up by every Python process of a Parsl-suite run (this folder is on
PYTHONPATH): the pytest process, and every pool and worker it starts.

``parsl`` resolves to Chervil through the public alias; only ``parsl.tests`` (Parsl's own
tests, copied by the harness into CHERVIL_PARSL_TESTS) is looked up in that copy, so a test
module pickled by reference in the client imports the same file on a worker.
"""
import importlib.machinery
import importlib.util
import os
import sys

_TESTS = os.environ.get('CHERVIL_PARSL_TESTS')


class _ParslTestsFinder:
    """``parsl.tests`` and below from the copy; everything else to the next finder."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname == 'parsl.tests':
            return importlib.util.spec_from_file_location(
                fullname, os.path.join(_TESTS, '__init__.py'), submodule_search_locations=[_TESTS])
        if fullname.startswith('parsl.tests.'):
            return importlib.machinery.PathFinder.find_spec(fullname, path)
        return None


if _TESTS:
    from chervil import compat

    compat.install()
    sys.meta_path.insert(0, _ParslTestsFinder())
