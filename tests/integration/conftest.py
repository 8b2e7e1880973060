"""Fixtures shared by the integration tests."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def pycni_bin(tmp_path_factory):
    """pycni's host-local, installed by `pycni install-plugins --only host-local` into a fresh directory."""
    d = tmp_path_factory.mktemp("bin")
    subprocess.run([sys.executable, "-m", "pycni.cli.main", "install-plugins", str(d), "--only", "host-local"],
                   check=True, capture_output=True)
    return str(d / "host-local")
