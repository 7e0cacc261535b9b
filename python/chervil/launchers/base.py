"""``parsl.launchers.base``: the launcher base class."""
from chervil.launchers.launchers import Launcher

__all__ = ['Launcher']
