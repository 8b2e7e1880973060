"""100 parallel bridge + host-local ADDs (ipMasq on, as podman's default), then 100 parallel DELs:
pycni's wall time against the reference's, over several rounds that alternate which side goes first.

On 2 cores every process spawned is CPU the other ADDs compete for, so this is the figure where a
plugin's whole cost (interpreter, imports, helper programs) shows. Writes bench/RESULTS-parallel.md.
Needs root. Not a test: nothing here asserts a time.

    sudo python3 bench/parallel.py [--rounds 5] [--n 100] [--python PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "src"))
import run as R  # noqa: E402  (bench/run.py: Netns, parallel_round)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--python", default=sys.executable, help="the interpreter pycni's launchers run")
    a = ap.parse_args()
    from pycni.cli.install import install

    pdir = tempfile.mkdtemp(prefix="pycni-bench-bin-")
    install(pdir, python=a.python)
    nets = R.Netns(os.urandom(2).hex())
    rows: list[dict] = []
    load = [os.getloadavg()[0]]
    try:
        host = nets.add("phost")
        conts = [nets.add(f"p{i}") for i in range(a.n)]
        sides = [("pycni", pdir), ("reference", R.REF)]
        for ipmasq in (True, False):
            for rnd in range(a.rounds):
                for side, d in (sides if rnd % 2 == 0 else sides[::-1]):
                    for r in R.parallel_round(d, host, conts, side, ipmasq):
                        rows.append(r | {"ipmasq": ipmasq, "round": rnd})
                        print(rows[-1], flush=True)
    finally:
        nets.cleanup()
        subprocess.run(["rm", "-rf", pdir], check=False)
    load.append(os.getloadavg()[0])
    write(a, rows, load)
    return 0


def write(a: argparse.Namespace, rows: list[dict], load: list[float]) -> None:
    py = R.interpreter_version(a.python)
    lines = [f"# {a.n} parallel bridge + host-local ADDs, then {a.n} DELs: pycni vs the reference", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, launchers on Python {py}, {os.cpu_count()} CPUs, "
             f"{a.rounds} rounds per setting, the side that goes first alternating. All {a.n} execs of a command "
             "start at once (`ip netns exec <host> bridge`, each with its own container namespace); wall time "
             "until the last exits. Load average "
             f"{load[0]:.1f} at start, {load[1]:.1f} at end. Reproduce: `sudo python3 bench/parallel.py "
             f"--rounds {a.rounds}" + (f" --python {a.python}" if a.python != sys.executable else "") + "`.", "",
             "| ipMasq | command | reference s (median; rounds) | pycni s (median; rounds) | pycni / reference | "
             "succeeded (pycni, ref) | distinct IPs (pycni) |", "|---|---|---|---|---|---|---|"]
    goal = ""
    for ipmasq in (True, False):
        for cmd in ("ADD", "DEL"):
            sel = {s: [r for r in rows if r["ipmasq"] == ipmasq and r["command"] == cmd and r["side"] == s]
                   for s in ("pycni", "reference")}
            med = {s: statistics.median(r["wall_s"] for r in v) for s, v in sel.items()}
            ratio = med["pycni"] / med["reference"]
            ok = f"{min(r['ok'] for r in sel['pycni'])}/{a.n}, {min(r['ok'] for r in sel['reference'])}/{a.n}"
            distinct = min(r["distinct"] for r in sel["pycni"]) if cmd == "ADD" else "–"
            lines.append(f"| {'on' if ipmasq else 'off'} | {cmd} | {med['reference']:.2f} ("
                         + ", ".join(f"{r['wall_s']:.2f}" for r in sel["reference"]) + f") | {med['pycni']:.2f} ("
                         + ", ".join(f"{r['wall_s']:.2f}" for r in sel["pycni"]) + f") | {ratio:.2f}× | {ok} | "
                         f"{distinct} |")
            if ipmasq and cmd == "ADD":
                goal = f"Goal: with ipMasq on, ADD wall time no more than the reference's: {ratio:.2f}×."
    lines += ["", goal]
    R.write_markdown("RESULTS-parallel.md", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
