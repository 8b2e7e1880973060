"""Two pycni builds side by side: this tree's launchers against those of an earlier commit.

A refactor must not cost start-up: this installs both builds (each with its own bundles, on the
same interpreter) and times VERSION, static ADD and the namespace chains, alternating the two
builds in one session so machine drift cancels. Writes bench/RESULTS-builds.md. Needs root.

    sudo python3 bench/compare_builds.py --before 2d6b66c [--runs 21]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run as R  # noqa: E402  (the spawn helpers and the namespace cases' configs)


def install(src_root: str, dest: str, python: str) -> None:
    """`pycni install-plugins dest` run from the tree at src_root (its own code, its own bundles)."""
    env = dict(os.environ, PYTHONPATH=os.path.join(src_root, "src"))
    subprocess.run([python, "-m", "pycni.cli.main", "install-plugins", dest, "--python", python],
                   env=env, check=True, capture_output=True)


def export(rev: str, dest: str) -> None:
    """The tree of commit `rev` (src/ only) under dest."""
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)


def cases(before: str, after: str, nets: R.Netns) -> list[R.Case]:
    conf = json.dumps(R.STATIC_CONF).encode()
    host = nets.add("host")
    cont = nets.add("c1")
    cpath = f"/var/run/netns/{cont}"
    ptp = dict(R.STATIC_CONF, type="ptp", name="cmpptp")
    ptp["ipam"] = dict(R.STATIC_CONF["ipam"], addresses=[{"address": "10.11.0.2/24", "gateway": "10.11.0.1"}],
                       routes=[{"dst": "0.0.0.0/0", "gw": "10.11.0.1"}])
    ptp_b = json.dumps(ptp).encode()
    data = tempfile.mkdtemp(prefix="pycni-cmp-hl-")
    br_b = json.dumps({"cniVersion": "1.0.0", "name": "cmpbr", "type": "bridge", "bridge": "cmpbr0",
                       "isGateway": True, "ipMasq": True,
                       "ipam": {"type": "host-local", "dataDir": data,
                                "ranges": [[{"subnet": "10.21.0.0/16"}]]}}).encode()
    return [
        R.Case("VERSION (static)", lambda: R.one(f"{after}/static", R.env_for("VERSION")),
               lambda: R.one(f"{before}/static", R.env_for("VERSION"))),
        R.Case("static ADD", lambda: R.one(f"{after}/static", R.env_for("ADD", path=after), conf),
               lambda: R.one(f"{before}/static", R.env_for("ADD", path=before), conf)),
        R.Case("ptp + static ADD+DEL (namespace)", lambda: R.cycle(host, after, ptp_b, cpath, after),
               lambda: R.cycle(host, before, ptp_b, cpath, before)),
        R.Case("bridge (ipMasq) + host-local ADD+DEL (namespace)",
               lambda: R.cycle(host, after, br_b, cpath, after), lambda: R.cycle(host, before, br_b, cpath, before)),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--before", required=True, help="the earlier commit (any git revision)")
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pycni-cmp-")
    old_src, old_bin, new_bin = (os.path.join(work, d) for d in ("src-before", "bin-before", "bin-after"))
    for d in (old_src, old_bin, new_bin):
        os.makedirs(d)
    export(args.before, old_src)
    install(old_src, old_bin, args.python)
    install(ROOT, new_bin, args.python)
    nets = R.Netns("cmp")
    try:
        rows = [R.measure(c, args.runs) for c in cases(old_bin, new_bin, nets)]
    finally:
        nets.cleanup()
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    lines = ["# Two builds side by side", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: this tree ({head.stdout.strip()}, "
             f"with uncommitted changes if any) against `{args.before}`, launchers on `{args.python}`, "
             f"{args.runs} alternated runs, median ms (min–max). Reproduce: "
             f"`sudo python3 bench/compare_builds.py --before {args.before}`.", "",
             "| case | after ms | before ms | after − before | ratio |", "|---|---|---|---|---|"]
    for r in rows:
        a, b = r["pycni_ms"], r["ref_ms"]
        lines.append(f"| {r['case']} | {a['median']:.1f} ({a['min']:.1f}–{a['max']:.1f}) | "
                     f"{b['median']:.1f} ({b['min']:.1f}–{b['max']:.1f}) | {a['median'] - b['median']:+.2f} | "
                     f"{r['ratio']:.3f}× |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, "RESULTS-builds.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
