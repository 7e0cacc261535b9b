"""``FilesystemRadio`` (``parsl.monitoring.radios.filesystem``)."""
from chervil.monitoring.radios.base import EngineCarried


class FilesystemRadio(EngineCarried):
    """Parsl's shared-filesystem radio (messages dropped in a maildir under the run
    directory). Chervil's pools send their samples over their own connection instead."""


class FilesystemRadioSender:
    """Writes each message (pickled) into ``<run_dir>/monitor-fs-radio/``, maildir-style:
    written whole under ``tmp/``, then renamed into ``new/``, so a reader never sees half
    a message."""

    def __init__(self, *, run_dir: str) -> None:
        import os
        self.base_path = os.path.join(run_dir, 'monitor-fs-radio')
        self.tmp_path = os.path.join(self.base_path, 'tmp')
        self.new_path = os.path.join(self.base_path, 'new')
        os.makedirs(self.tmp_path, exist_ok=True)
        os.makedirs(self.new_path, exist_ok=True)

    def send(self, message: object) -> None:
        import os
        import pickle
        import uuid
        name = str(uuid.uuid4())
        tmp = os.path.join(self.tmp_path, name)
        with open(tmp, 'wb') as f:
            pickle.dump(message, f)
        os.rename(tmp, os.path.join(self.new_path, name))
