"""Executors Parsl has that Chervil does not run: importable under Parsl's names (so a
script or an ``isinstance`` check that mentions them still loads), and a clear
:class:`ConfigurationError` naming what to use instead as soon as one is built."""
from chervil.errors import ConfigurationError
from chervil.executors.base import ParslExecutor


class _Unsupported(ParslExecutor):
    why = ""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        # The reference's text, from the same words the error uses.
        cls.__doc__ = f"Not available: building one raises :class:`~chervil.errors.ConfigurationError` ({cls.why})."

    def __init__(self, *args, **kwargs):
        raise ConfigurationError(
            f"{type(self).__name__} is not available in Chervil: {self.why}. Use "
            "HighThroughputExecutor (pilot workers on any provider) or ThreadPoolExecutor, "
            "or run this script with Parsl itself")

    def start(self) -> None:  # pragma: no cover - never constructed
        raise NotImplementedError

    def submit(self, func, resource_specification, *args, **kwargs):  # pragma: no cover
        raise NotImplementedError


class FluxExecutor(_Unsupported):
    why = "it needs the Flux resource manager's Python bindings"


class GlobusComputeExecutor(_Unsupported):
    why = "it sends tasks to the Globus Compute cloud service, which this engine does not talk to"


class RadicalPilotExecutor(_Unsupported):
    why = "it needs RADICAL-Pilot"
