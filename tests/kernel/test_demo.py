"""`pycni demo`, the README's main job: it runs, shows the split, and leaves nothing behind."""

from __future__ import annotations

import io
import re
import subprocess

from pycni.cli import demo


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_demo_shows_multipath_routes_and_a_split_and_cleans_up():
    before = _namespaces()
    buf = io.StringIO()
    # Source ports are the kernel's choice, so each split is a binomial draw: with 256 flows an even
    # hash puts under 30% on one gateway about once in 10^10 runs (64 flows and 35% failed ~1 in 100).
    assert demo.main(flows=256, out=buf) == 0
    text = buf.getvalue()
    assert text.count("nexthop via") >= 4
    rows = re.findall(r"^(IPv[46]) gw\d .*?(\d+)/(\d+)", text, re.M)
    ours = rows[:4]
    for _, n, total in ours:
        assert int(n) >= 0.3 * int(total)
    upstream = [int(n) for _, n, _ in rows[4:6]]
    assert sorted(upstream) == [0, 256]  # upstream's IPv4 programming: one gateway takes every flow
    assert not {n for n in _namespaces() - before if n.startswith("pycni-demo-")}


def test_demo_refuses_politely_without_root(monkeypatch, capsys):
    monkeypatch.setattr(demo.os, "geteuid", lambda: 1000)
    assert demo.main() == 1
    assert "needs root" in capsys.readouterr().err
