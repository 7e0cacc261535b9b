"""A library of apps, as a Parsl user writes one: it imports parsl, not chervil."""
import parsl
from parsl import bash_app, python_app


class ValidationError(Exception):
    """A domain error raised inside an app; callers catch it by type."""


class Sample:
    def __init__(self, value):
        self.value = value


@python_app
def square(x):
    return x * x


@python_app
def make_sample(x):
    from mylib import Sample  # the worker imports this module, which imports parsl
    return Sample(x)


@python_app
def validate(x):
    if x < 0:
        raise ValidationError(f"negative: {x}")
    return x


@python_app
def where():
    import parsl as p
    return p.__name__, p.python_app.__module__


@bash_app
def echo(word, stdout=parsl.AUTO_LOGNAME):
    return f"echo {word}"
