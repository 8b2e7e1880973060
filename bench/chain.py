"""podman's default network chain, pycni against the reference (and against an older pycni), side by side.

bridge (ipMasq, hairpinMode, isGateway; host-local) -> portmap (one mapping) -> firewall -> tuning;
ADD in order, then DEL in reverse order with the ADD result as prevResult, as a runtime does. IPv4 and
dual-stack. Every plugin exec is timed whole (spawn to exit, `ip netns exec` into the bench's host
namespace on every side alike); the sides alternate round by round so machine drift cancels. Then a
per-call breakdown of pycni's time (bench/chain_probe.py). Writes bench/RESULTS-chain.md. Needs root.
Not a test: nothing here asserts a time.

    sudo python3 bench/chain.py [--runs 15] [--before REV]   (REV: a git revision whose launchers to compare)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
REF = "/usr/lib/cni"
PROBE = os.path.join(HERE, "chain_probe.py")
sys.path.insert(0, HERE)
sys.path.insert(0, SRC)
import host_local_scale  # noqa: E402  (the shared posix_spawn timer)
from run import interpreter_version, write_markdown  # noqa: E402  (bench/run.py)

CHAIN = ["bridge", "portmap", "firewall", "tuning"]
MODULES = {"bridge": "pycni.plugins.main.bridge", "portmap": "pycni.plugins.meta.portmap",
           "firewall": "pycni.plugins.meta.firewall", "tuning": "pycni.plugins.meta.tuning"}


def confs(data_dir: str, dual: bool) -> list[dict]:
    ranges = [[{"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}]]
    routes = [{"dst": "0.0.0.0/0"}]
    if dual:
        ranges.append([{"subnet": "fd89::/64", "gateway": "fd89::1"}])
        routes.append({"dst": "::/0"})
    return [
        {"type": "bridge", "bridge": "cni-bench0", "isGateway": True, "ipMasq": True, "hairpinMode": True,
         "ipam": {"type": "host-local", "routes": routes, "ranges": ranges, "dataDir": data_dir}},
        {"type": "portmap", "capabilities": {"portMappings": True},
         "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}},
        {"type": "firewall", "backend": ""},
        {"type": "tuning"},
    ]


def env_for(command: str, netns: str, path: str) -> dict[str, str]:
    return {"CNI_COMMAND": command, "CNI_CONTAINERID": "benchchain1", "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
            "CNI_PATH": path, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def stdin_for(conf: dict, prev: dict | None) -> bytes:
    full = dict(conf, cniVersion="1.0.0", name="podman-bench")
    if prev is not None:
        full["prevResult"] = prev
    return json.dumps(full).encode()


def chain_cycle(host: str, exe_dir: str, cont_path: str, plugins: list[dict]) -> dict[str, float]:
    """One ADD of the whole chain, then one DEL: {"ADD bridge": s, ..., "DEL bridge": s}."""
    times: dict[str, float] = {}
    prev = None
    for conf in plugins:
        t, rc, out = host_local_scale.spawn(["/usr/sbin/ip", "netns", "exec", host, f"{exe_dir}/{conf['type']}"],
                                            env_for("ADD", cont_path, exe_dir), stdin_for(conf, prev))
        if rc != 0:
            raise RuntimeError(f"{exe_dir}/{conf['type']} ADD failed ({rc}): {out[:300]!r}")
        times[f"ADD {conf['type']}"] = t
        prev = json.loads(out)
    for conf in reversed(plugins):
        t, rc, out = host_local_scale.spawn(["/usr/sbin/ip", "netns", "exec", host, f"{exe_dir}/{conf['type']}"],
                                            env_for("DEL", cont_path, exe_dir), stdin_for(conf, prev))
        if rc != 0:
            raise RuntimeError(f"{exe_dir}/{conf['type']} DEL failed ({rc}): {out[:300]!r}")
        times[f"DEL {conf['type']}"] = t
    return times


def install_tree(src: str, directory: str, python: str) -> None:
    """Launchers for the pycni in `src` (run in its own interpreter: `src` may be another revision)."""
    code = "import sys; sys.path.insert(0, sys.argv[1]); from pycni.cli.install import install; " \
           "install(sys.argv[2], python=sys.argv[3])"
    subprocess.run([python, "-c", code, src, directory, python], check=True, env={"PATH": os.environ["PATH"]})


def export_rev(rev: str, dest: str) -> str:
    repo = os.path.dirname(HERE)
    archive = subprocess.run(["git", "-C", repo, "archive", rev, "src"], check=True, capture_output=True).stdout
    os.makedirs(dest, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return os.path.join(dest, "src")


def probe(host: str, python: str, cont_path: str, plugins: list[dict], runs: int, cni_path: str
          ) -> dict[str, dict[str, float]]:
    """Per plugin call: median ms of each part of pycni's time."""
    out: dict[str, dict[str, list[float]]] = {}

    def run_probe(conf: dict, command: str, prev: dict | None, mode: str, extra: list[str]) -> tuple[dict, bytes]:
        bundle = os.path.join(cni_path, ".pycni", conf["type"] + ".bundle")
        argv = ["ip", "netns", "exec", host, python, "-I", "-S", PROBE, SRC, MODULES[conf["type"]], mode, *extra,
                bundle if os.path.exists(bundle) else ""]
        p = subprocess.run(argv, input=stdin_for(conf, prev), env=env_for(command, cont_path, cni_path),
                           capture_output=True, check=False)
        line = [x for x in p.stderr.decode().splitlines() if x.startswith("PYCNI-PROBE ")]
        if not line or p.returncode != 0:
            raise RuntimeError(f"probe {conf['type']} {command} {mode}: {p.stdout[:300]!r} {p.stderr[-500:]!r}")
        return dict(kv.split("=", 1) for kv in line[-1].split()[1:]), p.stdout

    mods: dict[str, str] = {}
    progs: dict[str, str] = {}
    for rnd in range(runs + 1):  # round 0 learns each call's module list (its times are dropped)
        prev: dict | None = None
        seq = [(c, "ADD") for c in plugins] + [(c, "DEL") for c in reversed(plugins)]
        for conf, command in seq:
            key = f"{command} {conf['type']}"
            work, stdout = run_probe(conf, command, prev, "work", [mods.get(key, "")])
            if command == "ADD":
                prev = json.loads(stdout)
            if rnd == 0:
                mods[key] = work["modules"].replace("-", "")
                continue
            imp, _ = run_probe(conf, command, prev, "imports", [mods[key]])
            row = out.setdefault(key, {})
            row.setdefault("imports", []).append(float(imp["imports_ms"]))
            for k in ("work", "helpers", "netlink", "fsync", "ipam"):
                row.setdefault(k, []).append(float(work[f"{k}_ms"]))
            row.setdefault("helpers_n", []).append(float(work["helpers_n"]))
            row.setdefault("fsync_n", []).append(float(work["fsync_n"]))
            progs[key] = work["helper_progs"]
    med = {k: {f: statistics.median(v) for f, v in row.items()} for k, row in out.items()}
    for k, row in med.items():
        row["progs"] = progs.get(k, "-")  # type: ignore[assignment]
    return med


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--before", default="", help="git revision of an older pycni to time as well")
    ap.add_argument("--python", default=sys.executable)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pycni-bench-chain-")
    sides = {"pycni": os.path.join(tmp, "after")}
    install_tree(SRC, sides["pycni"], a.python)
    if a.before:
        before_dir = os.path.join(tmp, "before")
        install_tree(export_rev(a.before, tmp + "/rev"), before_dir, a.python)
        sides = {"pycni (before)": before_dir, **sides}
    sides["reference"] = REF
    tag = os.urandom(2).hex()
    nss = [f"pycni-bench-chain-{tag}-{r}" for r in ("h", "c")]
    for ns in nss:
        subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "-n", nss[0], "link", "set", "lo", "up"], check=True)
    host, cont_path = nss[0], f"/run/netns/{nss[1]}"
    bare = [a.python, "-I", "-S", "-c", "pass"]
    report: dict = {"runs": a.runs, "before": a.before, "cases": {}, "load": [os.getloadavg()[0]]}
    try:
        for dual in (False, True):
            case = "dual-stack" if dual else "IPv4"
            data = {s: tempfile.mkdtemp(dir=tmp) for s in sides}
            plugin_confs = {s: confs(data[s], dual) for s in sides}
            samples: dict[str, list[dict[str, float]]] = {s: [] for s in sides}
            for s, d in sides.items():  # warm-up
                chain_cycle(host, d, cont_path, plugin_confs[s])
            bares, wrapped = [], []
            for _ in range(a.runs):
                for s, d in sides.items():
                    samples[s].append(chain_cycle(host, d, cont_path, plugin_confs[s]))
                bares.append(host_local_scale.spawn(bare, {}, b"")[0] * 1000)  # same load as this round
                # and started the way every plugin call above is, for the whole-call comparison
                wrapped.append(host_local_scale.spawn([shutil.which("ip") or "/usr/sbin/ip", "netns", "exec", host, *bare], {}, b"")[0] * 1000)
            report["cases"][case] = {
                s: {k: statistics.median(x[k] * 1000 for x in xs) for k in xs[0]} | {
                    "total": statistics.median(sum(x.values()) * 1000 for x in xs)}
                for s, xs in samples.items()}
            report["cases"][case]["bare"] = statistics.median(bares)
            report["cases"][case]["bare_wrapped"] = statistics.median(wrapped)
            report["cases"][case]["breakdown"] = probe(host, a.python, cont_path, confs(tempfile.mkdtemp(dir=tmp), dual),
                                                       max(3, a.runs // 3), sides["pycni"])
            print(case, json.dumps(report["cases"][case], indent=1), flush=True)
    finally:
        for ns in nss:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    report["load"].append(os.getloadavg()[0])
    write(report, a.python)
    return 0


def write(report: dict, python: str) -> None:
    ver = interpreter_version(python)
    lines = ["# podman's default chain: pycni vs the reference", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {ver}, {os.cpu_count()} CPUs, "
             f"{report['runs']} rounds, sides alternated. Chain: bridge (ipMasq, hairpinMode, isGateway, host-local) → "
             "portmap (1 mapping) → firewall → tuning; ADD in order then DEL in reverse. Whole-process ms "
             "(median), each call run through `ip netns exec` on every side. Reproduce: "
             f"`sudo python3 bench/chain.py --runs {report['runs']}"
             + (f" --before {report['before']}`" if report["before"] else "`") + ". "
             "`pycni (before)` is the named revision's launchers, `pycni` this tree's. "
             f"Load average {report['load'][0]:.1f} at start, {report['load'][1]:.1f} at end (other work shares "
             "the machine: compare the ratios, not the absolute times).", ""]
    for case, sides in report["cases"].items():
        breakdown = sides.pop("breakdown")
        bare = sides.pop("bare")
        bare_wrapped = sides.pop("bare_wrapped")
        names = list(sides)
        ref = sides["reference"]
        lines += [f"## {case}", "", "| call | " + " | ".join(f"{n} ms" for n in names)
                  + " | " + " | ".join(f"{n} / ref" for n in names if n != "reference") + " |",
                  "|---" * (len(names) * 2) + "|"]
        for k in list(ref):
            lines.append(f"| {k} | " + " | ".join(f"{sides[n][k]:.1f}" for n in names) + " | "
                         + " | ".join(f"{sides[n][k] / ref[k]:.2f}×" for n in names if n != "reference") + " |")
        noop = ", ".join(f"{k} {sides['pycni'][k]:.1f} ms = {sides['pycni'][k] / bare_wrapped:.2f}×"
                         for k in ("ADD tuning", "DEL tuning"))
        lines += ["", f"tuning changes nothing in this chain. Against a bare interpreter started the same way "
                      f"(`ip netns exec <host> python -I -S -c pass`, {bare_wrapped:.1f} ms): {noop} "
                      "(goal: within 1.3×)."]
        lines += ["", f"### pycni per call, where the time goes ({case}; ms, medians of probe runs)", "",
                  (f"start: a bare `python -I -S -c pass`, spawned once per round ({bare:.1f} ms); imports: the "
                   "modules the call loads, imported in a fresh interpreter from the launcher's precompiled bundle; "
                   "the rest is measured inside the call "
                   "(bench/chain_probe.py): helper programs (count, names), netlink requests, fsync, in-process "
                   "IPAM (host-local, its fsyncs excluded) and the other Python work."), "",
                  "| call | start | imports | helpers (n) | netlink | fsync (n) | IPAM | other | programs |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for k, b in breakdown.items():
            other = b["work"] - b["helpers"] - b["netlink"] - b["fsync"] - b["ipam"]
            lines.append(f"| {k} | {bare:.1f} | {b['imports']:.1f} | {b['helpers']:.1f} "
                         f"({b['helpers_n']:.0f}) | {b['netlink']:.1f} | {b['fsync']:.1f} ({b['fsync_n']:.0f}) | "
                         f"{b['ipam']:.1f} | {other:.1f} | {b['progs']} |")
        lines.append("")
    print(f"wrote {write_markdown('RESULTS-chain.md', lines)}")


if __name__ == "__main__":
    sys.exit(main())
