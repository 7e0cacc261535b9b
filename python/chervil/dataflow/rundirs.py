"""Numbered run directories: runinfo/000, runinfo/001, …"""
import os
import re


def make_rundir(path: str) -> str:
    """Creates the next numbered directory under ``path`` and returns its absolute path.

    Safe when several workflows start at once in the same place: a number another
    process took first is skipped.
    """
    os.makedirs(path, exist_ok=True)
    numbers = [int(n) for n in os.listdir(path) if re.fullmatch(r"\d+", n)]
    nxt = max(numbers) + 1 if numbers else 0
    while True:
        candidate = os.path.join(path, f"{nxt:03d}")
        try:
            os.makedirs(candidate)
            return os.path.abspath(candidate)
        except FileExistsError:
            nxt += 1
