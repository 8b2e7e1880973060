"""Fuzz every pycni plugin executable (tests/kernel/harness_fuzz.py) with more cases than CI runs.

Needs root. Usage: python3 bench/fuzz_plugins.py [--cases N] [--seed S] [--plugins a,b] [--verbose] [--bindir D]
(N defaults to $PYCNI_FUZZ_CASES or 150). Prints cases / ADD successes / violations / seconds per plugin, then
every violating case (its mutations and answers). Exit status 1 when anything violated an invariant.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "src"), os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "kernel")]

from harness_fuzz import SPECS, fuzz_plugin  # noqa: E402

from pycni.cli.install import install  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=int(os.environ.get("PYCNI_FUZZ_CASES", "150")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("PYCNI_FUZZ_SEED", "13")))
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--plugins", default=",".join(SPECS))
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--bindir", help="plugins installed already (e.g. from another checkout); default: install this tree's")
    a = ap.parse_args()
    if a.bindir:
        return run(a, a.bindir)
    bindir = tempfile.mkdtemp(prefix="pycni-fuzz-bin-")
    try:
        install(bindir)
        return run(a, bindir)
    finally:
        shutil.rmtree(bindir, ignore_errors=True)


def run(a: argparse.Namespace, bindir: str) -> int:
    total = 0
    for name in a.plugins.split(","):
        res = fuzz_plugin(name, bindir, a.seed, a.cases, a.start)
        total += res.violations
        print(f"{name:12} cases={res.cases:4} add_ok={res.add_ok:4} violations={res.violations:3} "
              f"{res.seconds:6.1f}s", flush=True)
        if a.verbose:
            for rep in res.failed:
                print(f"  {name} {rep!r}", flush=True)
    print(f"total violations: {total} (seed {a.seed}, {a.cases} cases per plugin)")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
