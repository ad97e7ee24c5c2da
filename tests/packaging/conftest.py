"""Shared paths for the packaging tests: the source tree and the built binary."""
import os
import pathlib
import socket

import pytest

HERE = pathlib.Path(__file__).resolve().parent
SRC = pathlib.Path(os.environ.get("EMBARGO_SRC", HERE.parent.parent))
BIN = os.environ.get("EMBARGO_BIN", str(SRC / "build" / "resolver" / "embargo"))
PACKAGING = SRC / "packaging"


@pytest.fixture
def free_port():
    """A TCP and UDP port free on 127.0.0.1 and ::1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            for fam, host, kind in ((socket.AF_INET, "127.0.0.1", socket.SOCK_DGRAM),
                                    (socket.AF_INET6, "::1", socket.SOCK_STREAM),
                                    (socket.AF_INET6, "::1", socket.SOCK_DGRAM)):
                with socket.socket(fam, kind) as s:
                    s.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")
