"""MPI launch prefixes (``parsl.executors.high_throughput.mpi_prefix_composer``).

The text comes from the engine (``chervil-mpi``), the same code the pools use to give
an MPI task ``$PARSL_MPI_PREFIX`` and its siblings, so these functions and a running
task never disagree.
"""
import logging
from typing import Dict, List, Tuple

from chervil import _core
from chervil.executors.errors import InvalidResourceSpecification

logger = logging.getLogger(__name__)

VALID_LAUNCHERS = ('srun', 'aprun', 'mpiexec')
_KEYS = {"ranks_per_node", "num_nodes", "num_ranks", "launcher_options"}


def validate_resource_spec(resource_spec: Dict[str, str]) -> None:
    """Checks an MPI task's ``parsl_resource_specification``: not empty, no keys but
    ``num_nodes``, ``ranks_per_node``, ``num_ranks``, ``launcher_options``. Fills in
    ``num_ranks`` or ``ranks_per_node`` from the other and ``num_nodes``, as Parsl does
    (as text; ``ranks_per_node`` from a division, so ``'2.0'``)."""
    keys = set(resource_spec)
    if not keys:
        raise InvalidResourceSpecification(keys, "MPI mode requires a parsl_resource_specification "
                                                 "({'num_nodes': N, 'ranks_per_node': M} or num_ranks)")
    if keys - _KEYS:
        raise InvalidResourceSpecification(keys - _KEYS)
    if "num_nodes" in resource_spec:
        nodes = int(resource_spec["num_nodes"])
        if not resource_spec.get("num_ranks") and resource_spec.get("ranks_per_node"):
            resource_spec["num_ranks"] = str(nodes * int(resource_spec["ranks_per_node"]))
        if not resource_spec.get("ranks_per_node") and resource_spec.get("num_ranks"):
            resource_spec["ranks_per_node"] = str(int(resource_spec["num_ranks"]) / nodes)


def _prefixes(launcher: str, resource_spec: Dict, node_hostnames: List[str]) -> Dict[str, str]:
    spec = dict(resource_spec)
    spec.setdefault("num_nodes", len(node_hostnames))
    derived = spec.get("ranks_per_node")
    if isinstance(derived, str) and not derived.isdigit() and spec.get("num_ranks"):
        # validate_resource_spec's '2.0': the engine derives it from num_ranks and prints it so
        del spec["ranks_per_node"]
    try:
        return dict(_core.mpi_environment(launcher, list(spec.items()), list(node_hostnames)))
    except ValueError as e:
        raise InvalidResourceSpecification(set(spec), str(e)) from None


def compose_mpiexec_launch_cmd(resource_spec: Dict, node_hostnames: List[str]) -> Tuple[str, str]:
    """``('PARSL_MPIEXEC_PREFIX', 'mpiexec -n … -ppn … -hosts … <launcher_options>')``."""
    return "PARSL_MPIEXEC_PREFIX", _prefixes("mpiexec", resource_spec, node_hostnames)["PARSL_MPIEXEC_PREFIX"]


def compose_srun_launch_cmd(resource_spec: Dict, node_hostnames: List[str]) -> Tuple[str, str]:
    """``('PARSL_SRUN_PREFIX', 'srun --ntasks … --nodelist … --nodes … <launcher_options>')``."""
    return "PARSL_SRUN_PREFIX", _prefixes("srun", resource_spec, node_hostnames)["PARSL_SRUN_PREFIX"]


def compose_aprun_launch_cmd(resource_spec: Dict, node_hostnames: List[str]) -> Tuple[str, str]:
    """``('PARSL_APRUN_PREFIX', 'aprun -n … -N … -node-list … <launcher_options>')``."""
    return "PARSL_APRUN_PREFIX", _prefixes("aprun", resource_spec, node_hostnames)["PARSL_APRUN_PREFIX"]


def compose_all(mpi_launcher: str, resource_spec: Dict, node_hostnames: List[str]) -> Dict[str, str]:
    """Every launcher's prefix, and ``PARSL_MPI_PREFIX`` as ``mpi_launcher``'s."""
    if mpi_launcher not in VALID_LAUNCHERS:
        raise RuntimeError(f"Unknown mpi_launcher:{mpi_launcher}")
    env = _prefixes(mpi_launcher, resource_spec, node_hostnames)
    return {k: v for k, v in env.items() if k.endswith("_PREFIX")}
