from chervil.providers.kubernetes.kube import KubernetesProvider

__all__ = ['KubernetesProvider']
