"""Where futures are looked for in an app's arguments (Parsl's dependency resolvers).

The shallow resolver (the default) finds futures passed directly as an argument or
in ``inputs=[...]``; the deep one also looks inside lists, tuples, sets and dicts.

Each traversal is a ``functools.singledispatch`` function, as in Parsl, so a container
type of your own can be taught to both: ``deep_traverse_to_gather.register(MyBag)``
(return the futures inside) and ``deep_traverse_to_unwrap.register(MyBag)`` (return it
with each future replaced by its result).
"""
from concurrent.futures import Future
from dataclasses import dataclass
from functools import singledispatch
from typing import Any, Callable, List, Sequence


@dataclass
class DependencyResolver:
    """How an app's arguments are searched for futures to wait for
    (``traverse_to_gather``) and given to the app with their values
    (``traverse_to_unwrap``)."""
    traverse_to_gather: Callable[[Any], Sequence[Future]]
    traverse_to_unwrap: Callable[[Any], Any]


@singledispatch
def shallow_traverse_to_gather(o: Any) -> List[Future]:
    return []


@shallow_traverse_to_gather.register
def _(fut: Future) -> List[Future]:
    return [fut]


@singledispatch
def shallow_traverse_to_unwrap(o: Any) -> Any:
    return o


@shallow_traverse_to_unwrap.register
def _(fut: Future) -> Any:
    return fut.result()


@singledispatch
def deep_traverse_to_gather(o: Any) -> List[Future]:
    return []


@deep_traverse_to_gather.register
def _(fut: Future) -> List[Future]:
    return [fut]


@deep_traverse_to_gather.register(list)
@deep_traverse_to_gather.register(tuple)
@deep_traverse_to_gather.register(set)
@deep_traverse_to_gather.register(frozenset)
def _(members) -> List[Future]:
    return [f for x in members for f in deep_traverse_to_gather(x)]


@deep_traverse_to_gather.register(dict)
def _(mapping) -> List[Future]:
    return [f for k, v in mapping.items() for f in deep_traverse_to_gather(k) + deep_traverse_to_gather(v)]


@singledispatch
def deep_traverse_to_unwrap(o: Any) -> Any:
    return o


@deep_traverse_to_unwrap.register
def _(fut: Future) -> Any:
    return fut.result()


@deep_traverse_to_unwrap.register(list)
@deep_traverse_to_unwrap.register(tuple)
@deep_traverse_to_unwrap.register(set)
@deep_traverse_to_unwrap.register(frozenset)
def _(members) -> Any:
    return type(members)(deep_traverse_to_unwrap(x) for x in members)


@deep_traverse_to_unwrap.register(dict)
def _(mapping) -> Any:
    return {deep_traverse_to_unwrap(k): deep_traverse_to_unwrap(v) for k, v in mapping.items()}


SHALLOW_DEPENDENCY_RESOLVER = DependencyResolver(shallow_traverse_to_gather, shallow_traverse_to_unwrap)
DEEP_DEPENDENCY_RESOLVER = DependencyResolver(deep_traverse_to_gather, deep_traverse_to_unwrap)
