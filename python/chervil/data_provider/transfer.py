"""What staging runs where the task runs: fetch a URL, rsync a path. Plain
functions of this module, so an executor sends them by reference."""
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from typing import Sequence

from chervil.data_provider.staging import StagingError


def _make_parent(local_path: str) -> None:
    directory = os.path.dirname(local_path)
    if directory:
        os.makedirs(directory, exist_ok=True)


def fetch(url: str, local_path: str, timeout: float = 300) -> None:
    """Downloads ``url`` (http, https or ftp) to ``local_path``, through a temporary
    name so a failed download never leaves a partial file where the task looks."""
    _make_parent(local_path)
    partial = f"{local_path}.part-{os.getpid()}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, 'wb') as out:
            shutil.copyfileobj(response, out, 1 << 20)
        os.replace(partial, local_path)
    except urllib.error.HTTPError as e:
        raise StagingError(url, f"the server answered HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise StagingError(url, str(e.reason)) from None
    except OSError as e:
        raise StagingError(url, f"{type(e).__name__}: {e}") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def rsync(source: str, destination: str, rsh: Sequence[str] = ()) -> None:
    """Copies ``source`` to ``destination`` (one of them ``host:path``); a local
    destination's folder is made first."""
    if ':' not in destination:
        _make_parent(destination)
    argv = ['rsync', '-a']
    if rsh:
        argv += ['-e', ' '.join(rsh)]
    argv += [source, destination]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise StagingError(source if ':' in source else destination,
                           f"rsync exited with {done.returncode}: {done.stderr.strip()[-500:]}")
