"""Where futures are looked for in an app's arguments (Parsl's dependency resolvers).

The shallow resolver (the default) finds futures passed directly as an argument or
in ``inputs=[...]``; the deep one also looks inside lists, tuples, sets and dicts.
"""
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, List


@dataclass
class DependencyResolver:
    traverse_to_gather: Callable[[Any], List[Future]]
    traverse_to_unwrap: Callable[[Any], Any]


def _shallow_gather(o: Any) -> List[Future]:
    return [o] if isinstance(o, Future) else []


def _shallow_unwrap(o: Any) -> Any:
    return o.result() if isinstance(o, Future) else o


def _deep_gather(o: Any) -> List[Future]:
    if isinstance(o, Future):
        return [o]
    if isinstance(o, (list, tuple, set, frozenset)):
        return [f for x in o for f in _deep_gather(x)]
    if isinstance(o, dict):
        return [f for k, v in o.items() for f in _deep_gather(k) + _deep_gather(v)]
    return []


def _deep_unwrap(o: Any) -> Any:
    if isinstance(o, Future):
        return o.result()
    if isinstance(o, (list, tuple, set, frozenset)):
        return type(o)(_deep_unwrap(x) for x in o)
    if isinstance(o, dict):
        return {_deep_unwrap(k): _deep_unwrap(v) for k, v in o.items()}
    return o


SHALLOW_DEPENDENCY_RESOLVER = DependencyResolver(_shallow_gather, _shallow_unwrap)
DEEP_DEPENDENCY_RESOLVER = DependencyResolver(_deep_gather, _deep_unwrap)
