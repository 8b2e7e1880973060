"""Fixtures for the conformance suite: pycni's launchers in a temporary CNI bin directory."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pycni_bin(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A directory holding pycni's drop-in executables, written by `pycni install-plugins`."""
    from pycni.cli.install import install

    d = str(tmp_path_factory.mktemp("pycni-bin"))
    install(d)
    return d


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ANN001
    import sys

    mod = sys.modules.get("test_static_conformance")
    stats = getattr(mod, "STATS", None) if mod is not None else None
    if stats:
        terminalreporter.write_sep("-", "static conformance (pycni vs /usr/lib/cni/static)")
        for line in stats["lines"]:
            terminalreporter.write_line(line)
