"""DataFuture: the future of a file an app produces (Parsl's ``parsl.app.futures``)."""
from concurrent.futures import Future

from chervil.data_provider.files import File


class DataFuture(Future):
    """Resolves to its :class:`~chervil.data_provider.files.File` when the task that produces it completes, or fails
    with that task's exception."""

    def __init__(self, fut: Future, file_obj: File, tid: int) -> None:
        super().__init__()
        if not isinstance(file_obj, File):
            raise TypeError(f"DataFuture needs a File, not {type(file_obj).__name__}")
        self._tid = tid
        self.file_obj = file_obj
        self.parent = fut
        fut.add_done_callback(self._parent_done)

    def _parent_done(self, parent: Future) -> None:
        e = parent.exception()
        if e is not None:
            self.set_exception(e)
        else:
            self.set_result(self.file_obj)

    @property
    def tid(self) -> int:
        return self._tid

    @property
    def filepath(self) -> str:
        return self.file_obj.filepath

    @property
    def filename(self) -> str:
        return self.filepath

    def cancel(self) -> bool:
        raise NotImplementedError("a DataFuture cannot be cancelled")

    def cancelled(self) -> bool:
        return False

    def running(self) -> bool:
        return bool(self.parent and self.parent.running())

    def __repr__(self) -> str:
        state = "done" if self.done() else "not done"
        return f"<{type(self).__module__}.{type(self).__qualname__} object at {hex(id(self))} " \
               f"representing {self.file_obj!r} {state}>"
