"""The version (``parsl.version.VERSION``): Chervil's own, which is also ``chervil.__version__``."""
from chervil._core import __version__ as VERSION

__all__ = ['VERSION']
