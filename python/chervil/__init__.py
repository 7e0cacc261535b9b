"""Chervil: Parsl's parallel scripting model on a Rust engine.

Write ``import chervil as parsl`` (or run an unchanged Parsl script with
``python -m chervil run script.py``) and the same apps, futures and configs work.

The names below are imported when first used, so a process that needs only a part of
Chervil — a worker unpickling a task, ``chervil.serialize`` — does not pay for the rest
(importing all of it takes about a third of a second).
"""
import importlib
import logging

from chervil._core import __commit__, __version__

VERSION = __version__

#: Where each public name lives: (module, attribute).
_LAZY = {
    'bash_app': ('chervil.app.app', 'bash_app'),
    'python_app': ('chervil.app.app', 'python_app'),
    'join_app': ('chervil.app.app', 'join_app'),
    'Config': ('chervil.config', 'Config'),
    'File': ('chervil.data_provider.files', 'File'),
    'AUTO_LOGNAME': ('chervil.dataflow.dflow', 'AUTO_LOGNAME'),
    'DataFlowKernel': ('chervil.dataflow.dflow', 'DataFlowKernel'),
    'DataFlowKernelLoader': ('chervil.dataflow.dflow', 'DataFlowKernelLoader'),
    'HighThroughputExecutor': ('chervil.executors', 'HighThroughputExecutor'),
    'ThreadPoolExecutor': ('chervil.executors', 'ThreadPoolExecutor'),
    'set_file_logger': ('chervil.log_utils', 'set_file_logger'),
    'set_stream_logger': ('chervil.log_utils', 'set_stream_logger'),
}
#: The DataFlowKernelLoader's class methods, under their Parsl names.
_LOADER = ('clear', 'load', 'dfk', 'wait_for_current_tasks')

__all__ = [
    'bash_app', 'python_app', 'join_app', 'Config', 'DataFlowKernel', 'File', 'set_stream_logger',
    'set_file_logger', 'AUTO_LOGNAME', 'ThreadPoolExecutor', 'HighThroughputExecutor', 'load', 'dfk', 'clear', 'wait_for_current_tasks',
]


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
    elif name in _LOADER:
        value = getattr(importlib.import_module('chervil.dataflow.dflow').DataFlowKernelLoader, name)
    else:
        raise AttributeError(f"module 'chervil' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_LOADER))


logging.getLogger('chervil').addHandler(logging.NullHandler())
