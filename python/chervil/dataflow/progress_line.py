"""The script's own terminal output and the progress line, kept apart.

The engine draws the progress line on stderr (``KernelHandle.start_progress``). While it
is drawn, ``sys.stdout`` and ``sys.stderr`` (those that are the terminal) are wrapped so
that each write first asks the line to step aside (it is erased and kept away), then
writes and flushes, then lets it come back below the text once the text has ended its
row. Without this a ``print`` landed on the line's row ("…ETA 0:01stage 1 finished").

Logging handlers that already write to one of those streams (``parsl.set_stream_logger()``
called before ``load``) are pointed at the wrapper too, and back at the end. Writes that
do not go through any of these (a subprocess writing to the inherited descriptor) are not
seen; the line is redrawn over them at its next tick.
"""
import logging
import sys
from typing import Any, List, Tuple


class _AsideStream:
    """A text stream that lets the progress line step aside around each write."""

    def __init__(self, stream: Any, kernel: Any) -> None:
        self._stream = stream
        self._kernel = kernel

    def write(self, text: str) -> int:
        if not text:
            return self._stream.write(text)
        self._kernel.progress_aside()
        ended = False
        try:
            n = self._stream.write(text)
            self._stream.flush()
            ended = text.endswith('\n')
        finally:
            self._kernel.progress_back(ended)
        return n

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


_installed: List[Tuple[str, Any, _AsideStream]] = []
_handlers: List[Tuple[logging.StreamHandler, Any]] = []


def _stream_handlers() -> List[logging.StreamHandler]:
    loggers = [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                       if isinstance(lg, logging.Logger)]
    return [h for lg in loggers for h in lg.handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]


def install(kernel: Any) -> None:
    """Wraps whichever of ``sys.stdout`` and ``sys.stderr`` is a terminal."""
    for name in ('stdout', 'stderr'):
        stream = getattr(sys, name)
        try:
            terminal = stream.isatty()
        except (AttributeError, ValueError, OSError):
            terminal = False
        if terminal and not isinstance(stream, _AsideStream):
            wrapper = _AsideStream(stream, kernel)
            setattr(sys, name, wrapper)
            _installed.append((name, stream, wrapper))
    wrappers = {id(raw): wrapper for _, raw, wrapper in _installed}
    for handler in _stream_handlers():
        wrapper = wrappers.get(id(handler.stream))
        if wrapper is not None:
            _handlers.append((handler, handler.stream))
            handler.stream = wrapper


def uninstall() -> None:
    """Puts the streams back (those the script has not replaced meanwhile)."""
    while _handlers:
        handler, raw = _handlers.pop()
        if isinstance(handler.stream, _AsideStream):
            handler.stream = raw
    while _installed:
        name, stream, wrapper = _installed.pop()
        if getattr(sys, name) is wrapper:
            setattr(sys, name, stream)
