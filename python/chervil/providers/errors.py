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

    def __str__(self) -> str:
        out = f"Cannot launch job {self.job_name}: {self.message}"
        if self.stderr:
            out += f"; stderr: {self.stderr.strip()}"
        return out
