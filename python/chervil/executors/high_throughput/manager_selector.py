"""Which pool gets tasks first (``parsl.executors.high_throughput.manager_selector``).

Pass one as ``HighThroughputExecutor(manager_selector=...)``. The ordering happens in the
engine's dispatch core, so a selector names an order rather than computing one:

- ``RandomManagerSelector``: each dispatch round starts at a pool picked at random.
- ``BlockIdManagerSelector``: the newest block first (the highest number), as in Parsl:
  work fills the newest blocks and leaves the oldest idle, so with
  ``strategy='htex_auto_scale'`` idle blocks drain and are scaled in.

Without one, rounds go round the pools in turn, which spreads load evenly, as Parsl's
random default does. A selector of your own (a subclass with its own ``sort_managers``)
cannot run inside the engine and is refused when the executor is made.
"""
import random
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Set


class ManagerSelector(metaclass=ABCMeta):
    """An order of pools (Parsl's "managers")."""

    #: The engine's name for this order.
    engine_order: str = ''

    @abstractmethod
    def sort_managers(self, ready_managers: Dict[bytes, dict], manager_list: Set[bytes]) -> List[bytes]:
        """``manager_list`` in the order they should get tasks (what Parsl's interchange
        calls; Chervil's dispatch core applies the same order itself)."""


class RandomManagerSelector(ManagerSelector):
    """Pools in a random order each round."""
    engine_order = 'random'

    def sort_managers(self, ready_managers: Dict[bytes, dict], manager_list: Set[bytes]) -> List[bytes]:
        shuffled = list(manager_list)
        random.shuffle(shuffled)
        return shuffled


class BlockIdManagerSelector(ManagerSelector):
    """Pools by block, newest (highest number) first."""
    engine_order = 'block_id'

    def sort_managers(self, ready_managers: Dict[bytes, dict], manager_list: Set[bytes]) -> List[bytes]:
        """Parsl's order: the manager to serve first is the *last* of the list."""
        def block(m):
            b = ready_managers[m].get('block_id')
            return (isinstance(b, str) and b.isdigit(), int(b) if isinstance(b, str) and b.isdigit() else 0, str(b))
        return sorted(manager_list, key=block)
