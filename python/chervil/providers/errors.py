"""Provider errors (``parsl.providers.errors``)."""
from chervil.errors import ParslError


class ExecutionProviderException(ParslError):
    """A provider could not do what was asked."""


class SubmitException(ExecutionProviderException):
    """A block could not be submitted; carries the scheduler's own words."""

    def __init__(self, job_name: str, message: str, stdout: str = None, stderr: str = None, retcode=None) -> None:
        super().__init__(job_name, message)
        self.job_name = job_name
        self.message = message
        self.stdout = stdout
        self.stderr = stderr
        self.retcode = retcode

    @property
    def task_name(self) -> str:
        """The old name of ``job_name`` (deprecated, as in Parsl)."""
        import warnings
        warnings.warn("SubmitException.task_name is deprecated; use job_name", DeprecationWarning, stacklevel=2)
        return self.job_name

    def __str__(self) -> str:
        out = f"Cannot launch job {self.job_name}: {self.message}"
        if self.stderr:
            out += f"; stderr: {self.stderr.strip()}"
        return out


class ScaleOutFailed(ExecutionProviderException):
    """Scaling out failed at the provider."""

    def __init__(self, provider, reason) -> None:
        super().__init__(provider, reason)
        self.provider = provider
        self.reason = reason

    def __str__(self) -> str:
        return f"Unable to scale out {self.provider} provider: {self.reason}"


class SchedulerMissingArgs(ExecutionProviderException):
    """The submit script's template lacks arguments it needs."""

    def __init__(self, missing_keywords, sitename) -> None:
        super().__init__(missing_keywords, sitename)
        self.missing_keywords = missing_keywords
        self.sitename = sitename

    def __str__(self) -> str:
        return f"SchedulerMissingArgs: Pool:{self.sitename} Arg:{self.missing_keywords}"


class ScriptPathError(ExecutionProviderException):
    """The submit script could not be written."""

    def __init__(self, script_path, reason) -> None:
        super().__init__(script_path, reason)
        self.script_path = script_path
        self.reason = reason

    def __str__(self) -> str:
        return f"Unable to write submit script:{self.script_path} Reason:{self.reason}"
