"""Shared fixtures for the command tests: the built binary and the source tree."""
import os
import pathlib
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
SRC = pathlib.Path(os.environ.get("EMBARGO_SRC", HERE.parent.parent))
BIN = os.environ.get("EMBARGO_BIN", str(SRC / "build" / "resolver" / "embargo"))
BUNDLED = SRC / "config" / "embargo.yaml"


def run(*args, cwd=None):
    """Runs embargo with args; returns the CompletedProcess (text)."""
    return subprocess.run([BIN, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


@pytest.fixture
def embargo():
    return run


@pytest.fixture
def bundled():
    return str(BUNDLED)


@pytest.fixture
def write(tmp_path):
    """Writes files into a temp dir: write('name.yaml', text) -> path."""
    def _write(name, text):
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return str(p)
    return _write
