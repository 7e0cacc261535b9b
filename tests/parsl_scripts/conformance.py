"""A script written for Parsl, unchanged. It prints one line per behaviour; the test
runs it under Parsl and under `python -m chervil run` and compares the lines."""
import concurrent.futures as cf
import os
import tempfile

import parsl
from parsl import bash_app, join_app, python_app
from parsl.app.errors import BashExitFailure
from parsl.config import Config
from parsl.data_provider.files import File
from parsl.dataflow.errors import DependencyError, JoinError
from parsl.dataflow.futures import AppFuture
from parsl.dataflow.states import States
from parsl.executors import ThreadPoolExecutor

work = tempfile.mkdtemp()
attempts = []


@python_app
def add(a, b=0):
    return a + b


@python_app
def boom(msg):
    raise KeyError(msg)


@python_app
def flaky():
    attempts.append(1)
    if len(attempts) < 2:
        raise ValueError("first try")
    return len(attempts)


@python_app
def total(inputs=()):
    return sum(inputs)


@bash_app
def shell(cmd, stdout=None, stderr=None, outputs=()):
    return cmd


@bash_app
def not_a_string():
    return 42


@join_app
def fan(n):
    return [add(i, i) for i in range(n)]


@join_app
def bad_join():
    return [add(1), boom("inner")]


def show(label, fut):
    try:
        print(label, "ok", repr(fut.result()))
    except Exception as e:
        print(label, "error", type(e).__name__, isinstance(e, ValueError))
    print(label, "status", fut.task_record["status"].name)


config = Config(executors=[ThreadPoolExecutor(label="local", max_threads=2)], retries=1,
                run_dir=os.path.join(work, "runinfo"))
with parsl.load(config) as dfk:
    print("future types", isinstance(add(1), AppFuture), isinstance(add(1), cf.Future))
    show("chain", add(add(1, 2), b=add(3)))
    show("inputs", total(inputs=[add(1), add(2), 3]))
    show("retry", flaky())
    failed = boom("x")
    show("failed", failed)
    dep = add(failed, 1)
    show("dep", dep)
    try:
        dep.result()
    except DependencyError as e:
        print("dep lists", [(type(x).__name__, d) for x, d in e.dependent_exceptions_tids] ==
              [("KeyError", f"task {failed.tid}")])
    out = os.path.join(work, "out.txt")
    show("bash", shell("echo hello", stdout=out))
    print("bash stdout", open(out).read().strip())
    err = os.path.join(work, "err.txt")
    show("bash exit", shell("exit 4", stderr=err))
    print("bash stderr head", open(err).read().splitlines()[0])
    try:
        shell("exit 4").result()
    except BashExitFailure as e:
        print("exitcode", e.exitcode)
    try:  # Parsl raises ValueError; Chervil's BashAppNoReturn is one, with a clearer message
        not_a_string().result()
    except ValueError:
        print("bash nostring raises ValueError")
    show("missing", shell("true", outputs=[File(os.path.join(work, "never"))]))
    made = shell(f"echo x > {work}/made.txt", outputs=[File(os.path.join(work, "made.txt"))])
    print("data future", type(made.outputs[0]).__name__, os.path.basename(made.outputs[0].result().filepath))
    show("join", fan(3))
    show("join fail", bad_join())
    try:
        bad_join().result()
    except JoinError as e:
        print("join lists", [type(x).__name__ for x, _ in e.dependent_exceptions_tids])
    f = File("https://example.org/a/b.csv")
    print("file", f.scheme, f.netloc, f.path, f.filename)
    print("states", States.exec_done.value, States.dep_fail.value, States.joining.value)
    try:
        parsl.load(config)
    except Exception as e:
        print("load twice", type(e).__name__)
print("done")
