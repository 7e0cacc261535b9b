"""``parsl.providers.condor``."""
from chervil.providers.condor.condor import CondorProvider

__all__ = ['CondorProvider']
