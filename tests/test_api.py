"""The public names and import paths Parsl scripts use."""
import concurrent.futures as cf
import importlib

import pytest


@pytest.mark.parametrize("module, names", [
    ("chervil", ["python_app", "bash_app", "join_app", "load", "dfk", "clear", "wait_for_current_tasks",
                 "Config", "File", "DataFlowKernel", "ThreadPoolExecutor", "set_stream_logger",
                 "set_file_logger", "AUTO_LOGNAME"]),
    ("chervil.config", ["Config"]),
    ("chervil.app.app", ["python_app", "bash_app", "join_app"]),
    ("chervil.app.errors", ["AppException", "AppBadFormatting", "AppTimeout", "BadStdStreamFile",
                            "BashAppNoReturn", "BashExitFailure", "MissingOutputs", "RemoteExceptionWrapper"]),
    ("chervil.app.futures", ["DataFuture"]),
    ("chervil.dataflow.futures", ["AppFuture"]),
    ("chervil.dataflow.dflow", ["DataFlowKernel", "DataFlowKernelLoader"]),
    ("chervil.dataflow.errors", ["DependencyError", "JoinError", "BadCheckpoint", "DataFlowException",
                                 "PropagatedException"]),
    ("chervil.dataflow.states", ["States", "FINAL_STATES", "FINAL_FAILURE_STATES"]),
    ("chervil.dataflow.dependency_resolvers", ["SHALLOW_DEPENDENCY_RESOLVER", "DEEP_DEPENDENCY_RESOLVER"]),
    ("chervil.data_provider.files", ["File"]),
    ("chervil.executors", ["ThreadPoolExecutor"]),
    ("chervil.executors.threads", ["ThreadPoolExecutor"]),
    ("chervil.executors.errors", ["ExecutorError", "BadMessage", "BadStateException",
                                  "InvalidResourceSpecification", "ScalingFailed", "UnsupportedFeatureError"]),
    ("chervil.errors", ["ConfigurationError", "NoDataFlowKernelError", "ParslError"]),
    ("chervil.utils", ["get_all_checkpoints", "get_last_checkpoint", "get_std_fname_mode"]),
])
def test_import_paths(module, names):
    mod = importlib.import_module(module)
    for name in names:
        assert hasattr(mod, name), f"{module}.{name}"


def test_states_have_parsl_values():
    from chervil.dataflow.states import FINAL_STATES, States
    assert {s.name: s.value for s in States} == {
        'pending': 0, 'running': 2, 'exec_done': 3, 'failed': 4, 'dep_fail': 5, 'launched': 7,
        'fail_retryable': 8, 'memo_done': 9, 'joining': 10, 'running_ended': 11}
    assert FINAL_STATES == {States.exec_done, States.memo_done, States.failed, States.dep_fail}


def test_futures_are_concurrent_futures():
    from chervil.app.futures import DataFuture
    from chervil.dataflow.futures import AppFuture
    assert issubclass(AppFuture, cf.Future)
    assert issubclass(DataFuture, cf.Future)


def test_error_hierarchy():
    from chervil.app.errors import AppException, BashAppNoReturn, BashExitFailure
    from chervil.dataflow.errors import DependencyError, PropagatedException
    from chervil.errors import ParslError
    assert issubclass(BashExitFailure, AppException) and issubclass(AppException, ParslError)
    assert issubclass(BashAppNoReturn, ValueError), "Parsl raises ValueError for a non-string bash return"
    assert issubclass(DependencyError, PropagatedException)
    e = BashExitFailure('myapp', 3)
    assert e.exitcode == 3 and 'myapp' in str(e) and '3' in str(e)
