"""What a Python user expects of the installed package: its version and engine commit, type
information for editors and mypy, complete metadata. (The wheel itself, on CPython 3.9–3.13
without a Rust toolchain, is tested by `make test-wheel`.)"""
import importlib.metadata
import os
import subprocess
import sys

import chervil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_version_names_the_engine_commit():
    assert chervil.__version__ == importlib.metadata.version('chervil')
    assert chervil.__commit__ and chervil.__commit__ != 'unknown', 'built from a git checkout: the commit is known'
    out = subprocess.run([sys.executable, '-m', 'chervil', 'version'], capture_output=True, text=True, check=True).stdout
    assert out.startswith(f'chervil {chervil.__version__} (engine commit {chervil.__commit__}, CPython ')


def test_type_information_ships_and_the_stub_matches_the_extension():
    here = os.path.dirname(chervil.__file__)
    assert os.path.isfile(os.path.join(here, 'py.typed'))
    assert os.path.isfile(os.path.join(here, '_core.pyi'))
    check = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'core-stub.py'), '--check'],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_metadata_is_complete():
    meta = importlib.metadata.metadata('chervil')
    classifiers = meta.get_all('Classifier')
    for v in ('3.9', '3.10', '3.11', '3.12', '3.13'):
        assert f'Programming Language :: Python :: {v}' in classifiers
    assert 'License :: OSI Approved :: Apache Software License' in classifiers
    assert meta['Requires-Python'] == '>=3.9'
    files = [str(f) for f in importlib.metadata.files('chervil')]
    assert any(f.endswith('LICENSE') for f in files), files
