"""Block errors (``parsl.jobs.errors``)."""
from chervil.errors import ParslError


class TooManyJobFailuresError(ParslError):
    """The executor stopped because its blocks kept failing; the message holds each
    failed block's scheduler message and the end of its stdout/stderr files."""
