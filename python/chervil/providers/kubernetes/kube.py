"""Blocks as Kubernetes pods (``parsl.providers.KubernetesProvider``), through
``kubectl``: it brings your kubeconfig, context and credential plugins, so there is
no ``kubernetes`` Python package to install. One pod per block (its manifest is in
``submit_scripts/``), one ``kubectl get pods`` for many blocks, ``kubectl delete
pods``. Not exercised against a live cluster: the manifest and the parsing of
recorded ``kubectl`` answers are tested.

The pool in the pod must reach the interchange: give the executor an ``address=``
the pods can route to.
"""
from typing import Dict, List, Optional, Tuple

from chervil import _core
from chervil.errors import ConfigurationError
from chervil.launchers.launchers import Launcher, SimpleLauncher
from chervil.providers.cluster_provider import ClusterProvider


def _pairs(owner: str, name: str, value) -> List[Tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise ConfigurationError(f"{owner}({name}=...): give a dict of strings, not {type(value).__name__}")
    return [(str(k), str(v)) for k, v in value.items()]


class KubernetesProvider(ClusterProvider):
    _scheduler = 'kubernetes'

    def __init__(self, image: str, namespace: str = 'default', nodes_per_block: int = 1, init_blocks: int = 4,
                 min_blocks: int = 0, max_blocks: int = 10, max_cpu: float = 2, max_mem: str = "500Mi",
                 init_cpu: float = 1, init_mem: str = "250Mi", extra_requests: Optional[Dict[str, str]] = None,
                 extra_limits: Optional[Dict[str, str]] = None, parallelism: float = 1, worker_init: str = "",
                 pod_name: Optional[str] = None, user_id: Optional[str] = None, group_id: Optional[str] = None,
                 run_as_non_root: bool = False, secret: Optional[str] = None,
                 persistent_volumes: List[Tuple[str, str]] = [], service_account_name: Optional[str] = None,
                 annotations: Optional[Dict[str, str]] = None, walltime: str = "00:00:00", cmd_timeout: float = 60,
                 launcher: Optional[Launcher] = None, status_batch_size: int = 50) -> None:
        if not isinstance(image, str) or not image:
            raise ConfigurationError("KubernetesProvider(image=...): name the container image the pods run, "
                                     "one with Python and chervil installed")
        if nodes_per_block != 1:
            raise ConfigurationError(f"KubernetesProvider(nodes_per_block={nodes_per_block!r}): a block is one pod; "
                                     "ask for more blocks (max_blocks) instead")
        super().__init__('kubernetes', nodes_per_block, init_blocks, min_blocks, max_blocks, parallelism, walltime,
                         launcher if launcher is not None else SimpleLauncher(), cmd_timeout, '', worker_init)
        self.image, self.namespace = image, namespace
        self.max_cpu, self.max_mem, self.init_cpu, self.init_mem = max_cpu, max_mem, init_cpu, init_mem
        self.extra_requests = _pairs('KubernetesProvider', 'extra_requests', extra_requests)
        self.extra_limits = _pairs('KubernetesProvider', 'extra_limits', extra_limits)
        self.annotations = _pairs('KubernetesProvider', 'annotations', annotations)
        self.pod_name, self.user_id, self.group_id = pod_name, user_id, group_id
        self.run_as_non_root, self.secret = run_as_non_root, secret
        self.persistent_volumes = [(str(c), str(p)) for c, p in persistent_volumes]
        self.service_account_name = service_account_name
        self.status_batch_size = status_batch_size

    def _make_engine(self, script_dir: str):
        def as_id(v):
            return None if v is None else int(v)
        return _core.BatchJobs.kubernetes(
            script_dir, self.walltime, float(self.cmd_timeout), self.worker_init, image=self.image,
            namespace=self.namespace, pod_name=self.pod_name or '', init_cpu=str(self.init_cpu),
            max_cpu=str(self.max_cpu), init_mem=str(self.init_mem), max_mem=str(self.max_mem),
            extra_requests=self.extra_requests, extra_limits=self.extra_limits, user_id=as_id(self.user_id),
            group_id=as_id(self.group_id), run_as_non_root=bool(self.run_as_non_root), secret=self.secret,
            persistent_volumes=self.persistent_volumes, service_account_name=self.service_account_name,
            annotations=self.annotations, status_batch_size=int(self.status_batch_size))
