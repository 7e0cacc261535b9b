"""Makes ``import parsl`` (and ``from parsl.x.y import z``) resolve to Chervil.

Installed by ``python -m chervil run``: a meta-path finder, placed first, answers for
``parsl`` and every ``parsl.*`` name with the Chervil module of the same path, so the
same module object is shared (``parsl.File is chervil.File``). A Parsl module that
Chervil lacks fails with an ImportError that says so.
"""
import importlib
import importlib.abc
import importlib.util
import sys

ALIAS = 'parsl'
TARGET = 'chervil'


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:
        pass


class ParslAliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``parsl.*`` as ``chervil.*``."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != ALIAS and not fullname.startswith(ALIAS + '.'):
            return None
        real = TARGET + fullname[len(ALIAS):]
        try:
            found = importlib.util.find_spec(real)
        except ModuleNotFoundError:
            found = None
        if found is None:
            raise ModuleNotFoundError(
                f"{fullname} is a Parsl module that Chervil does not provide (no {real}); "
                "run this script with Parsl itself, or tell the Chervil developers what it needs",
                name=fullname)
        return importlib.util.spec_from_loader(fullname, _AliasLoader(real),
                                               is_package=found.submodule_search_locations is not None)


def install() -> None:
    """Routes ``parsl`` imports to Chervil from now on in this process."""
    if not any(isinstance(f, ParslAliasFinder) for f in sys.meta_path):
        for name in [n for n in sys.modules if n == ALIAS or n.startswith(ALIAS + '.')]:
            del sys.modules[name]
        sys.meta_path.insert(0, ParslAliasFinder())
