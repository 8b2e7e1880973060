"""Launcher start-up with and without the precompiled-module bundle, per interpreter.

For each interpreter (this one, and /usr/bin/python3.11 when present): `python -I -S -c pass`, and
the `static` launcher's VERSION and ADD, once with DIR/.pycni/static.bundle and once without it
(a second install dir whose .pycni is removed). Runs alternate between the cases so machine drift
cancels; each figure is the median wall time from spawn to exit. `pass` includes the interpreter's
teardown, which the launchers skip (posix._exit once the answer is out), so a launcher's VERSION can
come in under it. Not a test: nothing is asserted.

    python3 bench/launcher_bundle.py [--runs 41] [--python PATH ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))
from pycni.cli.install import install  # noqa: E402

STATIC = {"cniVersion": "1.1.0", "name": "n", "type": "static",
          "ipam": {"type": "static", "addresses": [{"address": "10.0.0.2/24", "gateway": "10.0.0.1"},
                                                   {"address": "fd00::2/64"}],
                   "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.0.1"}]}}
ENV = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/some/where", "CNI_IFNAME": "eth0", "CNI_PATH": "/nonexistent",
       "PATH": "/usr/bin:/bin"}


def spawn(argv: list[str], env: dict[str, str], stdin_path: str) -> float:
    """Seconds from spawn to exit of one run (stdin from a file, output discarded)."""
    fin = os.open(stdin_path, os.O_RDONLY)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, fin, 0), (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)]
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        t = time.perf_counter() - t0
    finally:
        os.close(fin)
        os.close(null)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed with status {status}")
    return t


def measure(python: str, runs: int, work: str) -> dict[str, float]:
    with_b, without_b = os.path.join(work, "with"), os.path.join(work, "without")
    for d in (with_b, without_b):
        install(d, ["static"], python=python)
    shutil.rmtree(os.path.join(without_b, ".pycni"))
    empty, conf = os.path.join(work, "empty"), os.path.join(work, "conf.json")
    open(empty, "w").close()
    with open(conf, "w") as f:
        json.dump(STATIC, f)
    cases = {
        "pass": ([python, "-I", "-S", "-c", "pass"], ENV, empty),
        "VERSION, no bundle": ([os.path.join(without_b, "static")], dict(ENV, CNI_COMMAND="VERSION"), empty),
        "VERSION, bundle": ([os.path.join(with_b, "static")], dict(ENV, CNI_COMMAND="VERSION"), empty),
        "ADD, no bundle": ([os.path.join(without_b, "static")], dict(ENV, CNI_COMMAND="ADD"), conf),
        "ADD, bundle": ([os.path.join(with_b, "static")], dict(ENV, CNI_COMMAND="ADD"), conf),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for i in range(runs + 5):
        for k, (argv, env, stdin) in cases.items():
            t = spawn(argv, env, stdin)
            if i >= 5:  # the first rounds warm the page cache and __pycache__
                times[k].append(t)
    return {k: statistics.median(v) * 1000 for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=41)
    ap.add_argument("--python", action="append", help="interpreter to measure (repeatable)")
    ns = ap.parse_args()
    pythons = ns.python or [sys.executable] + [p for p in ["/usr/bin/python3.11"] if os.path.exists(p)]
    rows = []
    for python in pythons:
        with tempfile.TemporaryDirectory() as work:
            rows.append((python, measure(python, ns.runs, work)))
    cols = ["pass", "VERSION, no bundle", "VERSION, bundle", "ADD, no bundle", "ADD, bundle"]
    print(f"static launcher, median of {ns.runs} runs, ms (spawn to exit)\n")
    print("| interpreter | " + " | ".join(cols) + " | ADD saved |")
    print("|---" * (len(cols) + 2) + "|")
    for python, r in rows:
        saved = r["ADD, no bundle"] - r["ADD, bundle"]
        print(f"| {python} | " + " | ".join(f"{r[c]:.2f}" for c in cols) + f" | {saved:.2f} |")


if __name__ == "__main__":
    main()
