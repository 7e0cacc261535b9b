"""Makes ``import parsl`` (and ``from parsl.x.y import z``) resolve to Chervil.

Installed by ``python -m chervil run`` (or by calling :func:`install`): a meta-path
finder, placed first, answers for ``parsl`` and every ``parsl.*`` name with the Chervil
module of the same path, so the same module object is shared (``parsl.File is
chervil.File``). A Parsl module that Chervil lacks fails with an ImportError that says so.

The alias travels: once installed, :data:`ENV_FLAG` is set in this process's
environment, and executors put it in the command that starts their pools on any
provider, so every worker installs the alias before it unpickles a task. Apps,
classes and exceptions defined in a module that does ``import parsl`` then load the
same way on the workers as in the client.
"""
import importlib
import importlib.abc
import importlib.util
import logging
import os
import sys

ALIAS = 'parsl'
TARGET = 'chervil'
ENV_FLAG = 'CHERVIL_PARSL_ALIAS'


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


def installed() -> bool:
    return any(isinstance(f, ParslAliasFinder) for f in sys.meta_path)


def install() -> None:
    """Routes ``parsl`` imports to Chervil from now on, in this process and in the
    pools and workers its executors start."""
    if not installed():
        for name in [n for n in sys.modules if n == ALIAS or n.startswith(ALIAS + '.')]:
            del sys.modules[name]
        sys.meta_path.insert(0, ParslAliasFinder())
    alias_logger()
    os.environ[ENV_FLAG] = '1'


def alias_logger() -> None:
    """Makes ``logging.getLogger('parsl')`` Chervil's logger, so that a Parsl script's
    logging set-up (a handler on ``parsl``, its level) applies to what Chervil logs, as
    the modules' names do for imports. Left alone when the script made a ``parsl``
    logger of its own before the alias was installed."""
    manager = logging.Logger.manager
    chervil = logging.getLogger(TARGET)
    with logging._lock:  # type: ignore[attr-defined]  (the manager's own lock)
        existing = manager.loggerDict.get(ALIAS)
        if isinstance(existing, logging.Logger):
            return
        manager.loggerDict[ALIAS] = chervil
        if existing is not None:  # a placeholder: loggers named parsl.* exist already
            manager._fixupChildren(existing, chervil)  # type: ignore[attr-defined]


def install_if_inherited() -> None:
    """In a pool's worker: install the alias when the client that started it had it."""
    if os.environ.get(ENV_FLAG) == '1':
        install()
