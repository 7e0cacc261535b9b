import os
import pathlib

import pytest

from chervil.data_provider.files import File


def test_bare_path():
    f = File('data/input.txt')
    assert (f.url, f.scheme, f.netloc, f.path, f.filename) == ('data/input.txt', 'file', '', 'data/input.txt',
                                                               'input.txt')
    assert f.filepath == 'data/input.txt' and os.fspath(f) == 'data/input.txt' and str(f) == 'data/input.txt'
    assert f.local_path is None


def test_file_url_and_pathlike():
    f = File('file:///scratch/proj/x.dat')
    assert (f.scheme, f.path, f.filepath, f.filename) == ('file', '/scratch/proj/x.dat', '/scratch/proj/x.dat',
                                                          'x.dat')
    assert File(pathlib.Path('/a/b.txt')).filepath == '/a/b.txt'


def test_remote_url_needs_staging():
    f = File('https://example.org/data/file.csv')
    assert (f.scheme, f.netloc, f.path, f.filename) == ('https', 'example.org', '/data/file.csv', 'file.csv')
    with pytest.raises(ValueError, match="staged"):
        f.filepath
    f.local_path = '/tmp/file.csv'
    assert f.filepath == '/tmp/file.csv'
    clean = f.cleancopy()
    assert clean.local_path is None and clean.url == f.url and clean is not f


def test_open_works(tmp_path):
    p = tmp_path / 'x.txt'
    p.write_text('hello')
    with open(File(str(p))) as fh:
        assert fh.read() == 'hello'


def test_bad_argument():
    with pytest.raises(TypeError, match="path or URL"):
        File(42)
