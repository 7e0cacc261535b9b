"""A location-independent file (Parsl's ``parsl.data_provider.files.File``)."""
import os
from typing import Optional, Union
from urllib.parse import urlparse


class File:
    """A file named by a path or a URL.

    ``File('data.txt')`` and ``File('file:///scratch/data.txt')`` are local (scheme
    ``file``); ``File('https://host/data.txt')`` must be staged before a task can open
    it, after which ``local_path`` says where it landed. ``filepath`` (and
    ``os.fspath(file)``, so ``open(file)`` works) is where the task sees it.
    """

    def __init__(self, url: Union[os.PathLike, str]):
        if not isinstance(url, (str, os.PathLike)):
            raise TypeError(f"File() takes a path or URL string (or os.PathLike), not {type(url).__name__}: {url!r}")
        self.url = os.fspath(url) if isinstance(url, os.PathLike) else url
        parsed = urlparse(self.url)
        self.scheme = parsed.scheme or 'file'
        self.netloc = parsed.netloc
        self.path = parsed.path
        self.filename = os.path.basename(self.path)
        self.local_path: Optional[str] = None

    def cleancopy(self) -> "File":
        """A copy with only what the File was built from (no site-local ``local_path``)."""
        return File(self.url)

    @property
    def filepath(self) -> str:
        """The path to open where this is called: the staged ``local_path`` if there is
        one, else the path of a ``file`` URL."""
        if self.local_path is not None:
            return self.local_path
        if self.scheme == 'file':
            return self.path
        raise ValueError(f"No local_path for {self.url}: a {self.scheme}:// File must be staged "
                         "in (pass it in inputs=[...] to an app) before it can be opened")

    def __fspath__(self) -> str:
        return self.filepath

    def __str__(self) -> str:
        return self.filepath

    def __repr__(self) -> str:
        parts = [type(self).__name__, f"at 0x{id(self):x}", f"url={self.url}", f"scheme={self.scheme}",
                 f"netloc={self.netloc}", f"path={self.path}", f"filename={self.filename}"]
        if self.local_path is not None:
            parts.append(f"local_path={self.local_path}")
        return f"<{' '.join(parts)}>"

    def __eq__(self, other) -> bool:
        return isinstance(other, File) and other.url == self.url and other.local_path == self.local_path

    def __hash__(self) -> int:
        return hash(self.url)
