"""The script's own terminal output and the progress line, kept apart.

The engine draws the progress line on stderr (``KernelHandle.start_progress``). While it
is drawn, ``sys.stdout`` and ``sys.stderr`` (those that are the terminal) are wrapped so
that each write first asks the line to step aside (it is erased and kept away), then
writes and flushes, then lets it come back below the text once the text has ended its
row. Without this a ``print`` landed on the line's row ("…ETA 0:01stage 1 finished").

Writes that do not go through ``sys.stdout``/``sys.stderr`` (a subprocess writing to the
inherited descriptor, a logging handler made before the run began) are not seen; the
line is redrawn over them at its next tick.
"""
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


def uninstall() -> None:
    """Puts the streams back (those the script has not replaced meanwhile)."""
    while _installed:
        name, stream, wrapper = _installed.pop()
        if getattr(sys, name) is wrapper:
            setattr(sys, name, stream)
