#!/usr/bin/env bash
# Installs a built wheel as a user would — a fresh venv per CPython 3.9 … 3.13, with no cargo
# or rustc on PATH — then runs the Monte Carlo example on HTEX and tests/wheel/smoke.py in it.
#   scripts/wheel-smoke.sh dist/chervil-*.whl [3.9 3.10 …]
# Interpreters come from pyenv (`pyenv root`, else ~/.pyenv); a missing one is skipped with a
# message, and fails the run under CI (CI set), where every version must be tested.
set -euo pipefail
wheel=$(realpath "$1"); shift
versions=("$@"); [ ${#versions[@]} -gt 0 ] || versions=(3.9 3.10 3.11 3.12 3.13)
here=$(cd "$(dirname "$0")/.." && pwd)
pyenv_root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
work=$(mktemp -d "${TMPDIR:-/tmp}/chervil-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Only system directories: no ~/.cargo/bin, no pyenv shims, no checkout on PYTHONPATH.
clean_path=/usr/local/bin:/usr/bin:/bin
unset PYTHONPATH
for v in "${versions[@]}"; do
  py=$(ls -d "$pyenv_root"/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$py" ]; then
    if [ -n "${CI:-}" ]; then echo "CPython $v is not installed under $pyenv_root (pyenv install $v)" >&2; exit 1; fi
    echo "skipped: CPython $v is not installed (pyenv install $v)"; continue
  fi
  venv="$work/venv-$v"
  "$py" -m venv "$venv"
  if PATH="$venv/bin:$clean_path" command -v cargo >/dev/null || PATH="$venv/bin:$clean_path" command -v rustc >/dev/null; then
    echo "a Rust toolchain is on the clean PATH ($clean_path): the test would not show a user without one" >&2; exit 1
  fi
  PIP_DISABLE_PIP_VERSION_CHECK=1 PATH="$venv/bin:$clean_path" "$venv/bin/python" -m pip install -q "$wheel"
  run_dir="$work/run-$v"; mkdir -p "$run_dir"; cp "$here/examples/monte_carlo.py" "$here/tests/wheel/smoke.py" "$run_dir/"
  (cd "$run_dir" && PATH="$venv/bin:$clean_path" "$venv/bin/python" monte_carlo.py 20 2000 | tail -1)
  (cd "$run_dir" && PATH="$venv/bin:$clean_path" "$venv/bin/python" smoke.py)
done
