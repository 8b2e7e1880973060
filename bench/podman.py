"""`podman run -d -p` and `podman rm -f` on podman's default chain, pycni against the reference.

podman 4 (CNI backend) runs in the private world of tests/e2e/test_podman.py (its own network and mount
namespaces; nothing reaches the real host). One conflist per side, podman 4's default
(87-podman-bridge.conflist: bridge with ipMasq, hairpinMode, isGateway and host-local → portmap →
firewall → tuning), each side with its own plugin directory. Each round starts a container that
publishes a port and removes it, on one side then the other (the order alternates by round), timing
each podman command whole. Writes bench/RESULTS-podman.md. Needs root and `bash tests/e2e/podman_setup.sh`.
Not a test: nothing here asserts a time.

    sudo python3 bench/podman.py [--runs 11] [--python PATH]
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
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

import test_podman as E  # noqa: E402  (the e2e test's private podman world)
from run import interpreter_version, write_markdown  # noqa: E402  (bench/run.py)

SIDES = ("reference", "pycni")


def conflist(pm: E.Podman, side: str, k: int) -> str:
    net = f"bench-{side}"
    E.write_net(pm, side, {"cniVersion": "1.0.0", "name": net, "plugins": [
        {"type": "bridge", "bridge": f"pmb{pm.tag}{side[0]}", "isGateway": True, "ipMasq": True,
         "hairpinMode": True,
         "ipam": {"type": "host-local", "dataDir": pm.ipam,
                  "ranges": [[{"subnet": f"10.{pm.octet}.{k}.0/24", "gateway": f"10.{pm.octet}.{k}.1"}]],
                  "routes": [{"dst": "0.0.0.0/0"}]}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
        {"type": "firewall", "backend": "iptables"},
        {"type": "tuning"}]})
    return net


def timed(pm: E.Podman, side: str, *args: str) -> float:
    t0 = time.perf_counter()
    pm.podman(side, *args)
    return (time.perf_counter() - t0) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--python", default=sys.executable, help="the interpreter pycni's launchers run")
    a = ap.parse_args()
    why = E._skip_reason()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 1
    from pycni.cli.install import install

    base = tempfile.mkdtemp(prefix="pycni-bench-podman-")
    pm = E.Podman(base)
    times: dict[tuple[str, str], list[float]] = {(s, c): [] for s in SIDES for c in ("run", "rm")}
    try:
        pm.start()
        pm.configure("reference", E.REF)
        pdir = os.path.join(base, "pycni-bin")
        install(pdir, python=a.python)
        pm.configure("pycni", pdir)
        pm.build_image()
        nets = {s: conflist(pm, s, 100 + i) for i, s in enumerate(SIDES)}
        load = [os.getloadavg()[0]]
        for rnd in range(a.runs + 1):  # round 0 warms both sides up and is dropped
            for side in (SIDES if rnd % 2 else SIDES[::-1]):
                name = f"b{rnd}{side[0]}"
                run = timed(pm, side, "run", "-d", "--name", name, "--network", nets[side], "-p", "18080:8080",
                            E.IMAGE, "sleep", "300")
                rm = timed(pm, side, "rm", "--force", "--time", "0", name)
                if rnd:
                    times[(side, "run")].append(run)
                    times[(side, "rm")].append(rm)
        load.append(os.getloadavg()[0])
        left = (pm.host_veths(), pm.allocations(nets["pycni"]), pm.cache_files())
    finally:
        pm.stop()
        subprocess.run(["rm", "-rf", base], check=False)
    write(a, times, load, left)
    return 0


def write(a: argparse.Namespace, times: dict[tuple[str, str], list[float]], load: list[float], left: tuple) -> None:
    ver = subprocess.run(["podman", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    py = interpreter_version(a.python)
    med = {k: statistics.median(v) for k, v in times.items()}
    lines = [
        "# podman with pycni vs the reference: `podman run -d -p` and `podman rm -f`", "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {ver} (CNI backend), launchers on Python {py}, "
        f"{os.cpu_count()} CPUs, {a.runs} rounds (sides alternated, first round dropped). Chain: podman 4's "
        "default conflist (bridge ipMasq/hairpin/isGateway + host-local → portmap → firewall → tuning), one "
        "published port. Whole `podman` command, ms. Load average "
        f"{load[0]:.1f} at start, {load[1]:.1f} at end. Reproduce: `sudo python3 bench/podman.py --runs {a.runs}"
        + (f" --python {a.python}" if a.python != sys.executable else "") + "`.", "",
        "| command | reference ms (median, min–max) | pycni ms (median, min–max) | pycni / reference |",
        "|---|---|---|---|"]
    for cmd, label in (("run", "`podman run -d -p`"), ("rm", "`podman rm -f`")):
        r, p = times[("reference", cmd)], times[("pycni", cmd)]
        lines.append(f"| {label} | {med[('reference', cmd)]:.0f} ({min(r):.0f}–{max(r):.0f}) | "
                     f"{med[('pycni', cmd)]:.0f} ({min(p):.0f}–{max(p):.0f}) | "
                     f"{med[('pycni', cmd)] / med[('reference', cmd)]:.2f}× |")
    lines += ["", f"Goal: `podman run -d -p` within 1.1× of the reference: "
                  f"{med[('pycni', 'run')] / med[('reference', 'run')]:.2f}×. Left after the last `podman rm` "
                  f"(host veths, pycni allocations, cache files): {left}."]
    write_markdown("RESULTS-podman.md", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
