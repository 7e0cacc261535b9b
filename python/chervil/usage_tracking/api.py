"""Describing a configuration for usage tracking (``parsl.usage_tracking.api``).

Chervil sends usage data nowhere; these are here so that executors, providers and
plugins written against Parsl (which subclass ``UsageInformation`` or register with
``get_parsl_usage``) load and answer the same: the qualified class names of a
configuration's parts, recursively through their constructor arguments.
"""
import inspect
from abc import abstractmethod
from functools import singledispatch
from typing import Any, List, Sequence

from chervil.utils import RepresentationMixin


class UsageInformation:
    """A part that reports more than its class name: ``get_usage_information`` gives a
    dict that goes out beside the name (as ``{'c': name, ...}``)."""

    @abstractmethod
    def get_usage_information(self) -> dict:
        ...


@singledispatch
def get_parsl_usage(obj: Any) -> List[Any]:
    """What ``obj`` says of itself: nothing, unless registered (below, or by a plugin)."""
    return []


@get_parsl_usage.register
def get_parsl_usage_representation_mixin(obj: RepresentationMixin) -> List[Any]:
    """A configuration object: its qualified class name (with its usage information, if it
    has any), then what each of its constructor's arguments says of itself."""
    cls = type(obj)
    name = f"{cls.__module__}.{cls.__name__}"
    described: List[Any] = [{'c': name, **obj.get_usage_information()}] if isinstance(obj, UsageInformation) else [name]
    init = inspect.unwrap(cls.__init__)
    for arg in inspect.getfullargspec(init).args[1:]:
        described += get_parsl_usage(getattr(obj, arg, None))
    return described


@get_parsl_usage.register(list)
@get_parsl_usage.register(tuple)
def get_parsl_usage_sequence(obj: Sequence) -> List[Any]:
    """Each member's description, in order."""
    return [entry for member in obj for entry in get_parsl_usage(member)]


def _register_configuration_classes() -> None:
    """Parsl's configuration classes are RepresentationMixins; Chervil's are plain classes
    with the same constructor arguments kept as attributes: described the same way."""
    from chervil.config import Config
    from chervil.data_provider.staging import Staging
    from chervil.executors.base import ParslExecutor
    from chervil.launchers.launchers import Launcher
    from chervil.providers.base import ExecutionProvider
    for cls in (Config, ParslExecutor, ExecutionProvider, Launcher, Staging):
        get_parsl_usage.register(cls)(get_parsl_usage_representation_mixin)


_register_configuration_classes()
