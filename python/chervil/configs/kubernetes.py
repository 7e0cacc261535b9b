"""Pods on a Kubernetes cluster through kubectl, one worker each. Set the image and secret."""
from chervil.addresses import address_by_route
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.providers import KubernetesProvider

config = Config(executors=[HighThroughputExecutor(
    label='kube-htex', cores_per_worker=1, max_workers_per_node=1, worker_logdir_root='YOUR_WORK_DIR',
    address=address_by_route(),
    provider=KubernetesProvider(namespace='default', image='YOUR_DOCKER_URL', worker_init='',
                                secret='YOUR_KUBE_SECRET', pod_name='YOUR-POD-Name', nodes_per_block=1,
                                init_blocks=1, max_blocks=10))])
