from chervil.providers.local.local import LocalProvider

__all__ = ['LocalProvider']
