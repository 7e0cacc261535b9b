"""``JSONLogging``: every record as one JSON object a line, for tools that read logs."""
import json
import logging
import pathlib
from typing import Any, Callable

from chervil.logconfigs.base import LogConfig
from chervil.logconfigs.file import _lower_to


class JSONLogging(LogConfig):
    """Every record (of any logger) at ``level`` and above as a JSON line in
    ``<log_dir>/<log_name>.jsonlog``: its time, process, thread, logger, line, function,
    level, message as given and as formatted, and each ``parsl.*`` extra (``parsl.task``,
    ``parsl.app_name``, …) as text."""

    def __init__(self, *, level: int = logging.DEBUG) -> None:
        super().__init__()
        self.level = level

    def initialize_logging(self, *, log_dir: pathlib.Path, log_name: str) -> Callable[[], None]:
        log_dir = pathlib.Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = JSONHandler(log_dir / f"{log_name}.jsonlog")
        handler.setLevel(self.level)
        handler.setFormatter(logging.Formatter("%(message)s"))
        root = logging.getLogger()
        _lower_to(root, self.level)
        root.addHandler(handler)

        def undo() -> None:
            root.removeHandler(handler)
            handler.close()
        return undo


class JSONHandler(logging.Handler):
    """Writes each record as one JSON line to ``filename`` (made anew)."""

    def __init__(self, filename: pathlib.Path, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.f = open(filename, "w")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = {
                "created": record.created, "process": record.process, "processName": record.processName,
                "threadName": record.threadName, "thread": record.thread, "name": record.name,
                "lineno": record.lineno, "funcname": record.funcName, "levelname": record.levelname,
                "msg": str(record.msg), "formatted": self.format(record),
            }
            for key, value in record.__dict__.items():
                if key.startswith("parsl."):
                    try:
                        line[key] = str(value)
                    except Exception as e:  # shown, not dropped
                        line[key] = f"UNREPRESENTABLE: {e!r}"
            with self.lock:
                self.f.write(json.dumps(line) + "\n")
                self.f.flush()
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        with self.lock:
            if not self.f.closed:
                self.f.close()
        super().close()
