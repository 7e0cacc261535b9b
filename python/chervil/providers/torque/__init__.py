"""``parsl.providers.torque``."""
from chervil.providers.torque.torque import TorqueProvider

__all__ = ['TorqueProvider']
