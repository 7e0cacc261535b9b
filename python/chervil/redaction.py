"""The run's secrets, kept out of everything Chervil quotes.

A pool's secret reaches its block through the block's script, and a block can print it:
``worker_init='set -x'`` makes bash echo ``+ export CHERVIL_POOL_TOKEN=…`` into the block's
stderr, which error messages quote, and from there it would reach exceptions, ``parsl.log``,
the monitoring database and the dashboard. Every executor registers its secret here when it
makes one, and text from outside (a block's output, a scheduler's message, an executor's
error) passes through :func:`redact` where it enters. Secrets stay registered for the life of
the process: a block's files can be read after its executor has shut down.
"""
import threading
from typing import Optional

REDACTED = '[secret redacted]'

_secrets: frozenset = frozenset()
_lock = threading.Lock()


def register(secret: str) -> None:
    """Adds a secret (as it is written in scripts, e.g. hex) to those redacted."""
    global _secrets
    if secret:
        with _lock:
            _secrets = _secrets | {secret}


def redact(text: Optional[str]) -> Optional[str]:
    """``text`` with every registered secret replaced by ``[secret redacted]``."""
    if not text:
        return text
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text
