"""``parsl.providers.cobalt``."""
from chervil.providers.cobalt.cobalt import CobaltProvider

__all__ = ['CobaltProvider']
