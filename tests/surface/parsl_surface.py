"""Prints Parsl's public surface as JSON: every importable module of the installed Parsl
(but its tests and visualization) with its public names (``__all__``, or the classes and
functions it defines). Run with Parsl's Python; tests/test_surface.py compares Chervil."""
import importlib
import inspect
import json
import pkgutil

import parsl

SKIP = ('parsl.tests', 'parsl.monitoring.visualization')


def surface() -> dict:
    modules = {}
    for info in pkgutil.walk_packages(parsl.__path__, 'parsl.'):
        name = info.name
        if name.startswith(SKIP) or any(part.startswith('_') for part in name.split('.')[1:]):
            continue
        try:
            module = importlib.import_module(name)
        except Exception:
            continue  # needs a system not installed here (Flux, RADICAL, Globus Compute, …)
        names = getattr(module, '__all__', None)
        if names is None:
            names = [n for n, v in vars(module).items() if not n.startswith('_')
                     and (inspect.isclass(v) or inspect.isfunction(v)) and getattr(v, '__module__', '') == name]
        modules[name] = sorted(set(names))
    return modules


if __name__ == '__main__':
    print(json.dumps(surface()))
