"""Chervil: Parsl's parallel scripting model on a Rust engine.

Write ``import chervil as parsl`` (or run an unchanged Parsl script with
``python -m chervil run script.py``) and the same apps, futures and configs work.
"""
import logging

from chervil._core import __commit__, __version__
from chervil.app.app import bash_app, join_app, python_app
from chervil.config import Config
from chervil.data_provider.files import File
from chervil.dataflow.dflow import AUTO_LOGNAME, DataFlowKernel, DataFlowKernelLoader
from chervil.executors import HighThroughputExecutor, ThreadPoolExecutor
from chervil.log_utils import set_file_logger, set_stream_logger

VERSION = __version__

__all__ = [
    'bash_app', 'python_app', 'join_app', 'Config', 'DataFlowKernel', 'File', 'set_stream_logger',
    'set_file_logger', 'AUTO_LOGNAME', 'ThreadPoolExecutor', 'HighThroughputExecutor', 'load', 'dfk', 'clear', 'wait_for_current_tasks',
]

clear = DataFlowKernelLoader.clear
load = DataFlowKernelLoader.load
dfk = DataFlowKernelLoader.dfk
wait_for_current_tasks = DataFlowKernelLoader.wait_for_current_tasks

logging.getLogger('chervil').addHandler(logging.NullHandler())
