"""``parsl.providers.pbspro``."""
from chervil.providers.pbspro.pbspro import PBSProProvider

__all__ = ['PBSProProvider']
