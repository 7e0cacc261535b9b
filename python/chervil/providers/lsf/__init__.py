"""``parsl.providers.lsf``."""
from chervil.providers.lsf.lsf import LSFProvider

__all__ = ['LSFProvider']
