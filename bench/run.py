"""The side-by-side benchmark suite: pycni's executables against the reference binaries.

Whole-process timing (spawn to exit, as a runtime pays it), warm-up first, then N rounds that
alternate pycni and reference runs so machine drift cancels. Writes bench/RESULTS.md and
bench/results.json. Needs root for the namespace cases. Not a test: nothing here asserts a time.

    sudo python3 bench/run.py [--runs 15] [--quick] [--python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REF = "/usr/lib/cni"
sys.path.insert(0, HERE)
import host_local_scale  # noqa: E402  (the shared spawn helper, and the scale benchmark)


def peak_rss_kib(argv: list[str], env: dict[str, str], stdin: bytes = b"") -> int:
    """Peak RSS of one run, measured by GNU time in its own small process.

    wait4()'s ru_maxrss from this (large) Python process would be polluted: a spawned child's
    high-water mark starts from the parent's memory it briefly shares before exec.
    """
    if not os.path.exists("/usr/bin/time"):
        return 0
    with tempfile.NamedTemporaryFile("r") as f:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f.name] + argv, input=stdin, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        text = f.read().strip().splitlines()
    return int(text[-1]) if text and text[-1].isdigit() else 0


def spawn(argv: list[str], env: dict[str, str], stdin: bytes = b"") -> tuple[float, int, int, bytes]:
    """Run argv to completion: (seconds, exit status, 0, stdout). Memory: see peak_rss_kib."""
    t, rc, out = host_local_scale.spawn(argv, env, stdin)
    return t, rc, 0, out


class Case:
    """One benchmark: a callable per side returning (seconds, peak KiB) for one iteration."""

    def __init__(self, name: str, pycni, ref, note: str = "", rss=None) -> None:
        # rss: optional (pycni argv+env+stdin, ref argv+env+stdin) for a peak-memory probe
        self.name, self.pycni, self.ref, self.note, self.rss = name, pycni, ref, note, rss


def measure(case: Case, runs: int, warmup: int = 3) -> dict:
    for _ in range(warmup):
        case.pycni()
        if case.ref:
            case.ref()
    py, rf, py_mem, rf_mem = [], [], [], []
    for _ in range(runs):
        t, m = case.pycni()
        py.append(t)
        py_mem.append(m)
        if case.ref:
            t, m = case.ref()
            rf.append(t)
            rf_mem.append(m)
    row = {"case": case.name, "note": case.note, "runs": runs, "pycni_ms": _stats(py)}
    if rf:
        row["ref_ms"] = _stats(rf)
        row["ratio"] = row["pycni_ms"]["median"] / row["ref_ms"]["median"]
    if case.rss:
        row["pycni_rss_kib"] = peak_rss_kib(*case.rss[0])
        if case.rss[1]:
            row["ref_rss_kib"] = peak_rss_kib(*case.rss[1])
    return row


def _stats(xs: list[float]) -> dict:
    ms = [x * 1000 for x in xs]
    return {"median": statistics.median(ms), "min": min(ms), "max": max(ms)}


# --- plugin invocations ---------------------------------------------------------------------------


def env_for(command: str, netns: str = "/some/where", cid: str = "bench1", path: str = "") -> dict[str, str]:
    return {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
            "CNI_PATH": path, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def one(exe: str, env: dict[str, str], stdin: bytes = b"") -> tuple[float, int]:
    t, rc, mem, out = spawn([exe], env, stdin)
    if rc != 0:
        raise RuntimeError(f"{exe} {env.get('CNI_COMMAND')} failed ({rc}): {out[:300]!r}")
    return t, mem


def in_netns(ns: str, exe: str, env: dict[str, str], stdin: bytes) -> tuple[float, int]:
    # `ip netns exec` costs the same on both sides; it puts host-side objects in the bench's own netns.
    t, rc, mem, out = spawn(["/usr/sbin/ip", "netns", "exec", ns, exe], env, stdin)
    if rc != 0:
        raise RuntimeError(f"{exe} {env.get('CNI_COMMAND')} in {ns} failed ({rc}): {out[:300]!r}")
    return t, mem


STATIC_CONF = {
    "cniVersion": "1.0.0", "name": "bench", "type": "static",
    "ipam": {"type": "static",
             "addresses": [{"address": "10.10.0.2/24", "gateway": "10.10.0.1"},
                           {"address": "fd10::2/64", "gateway": "fd10::1"}],
             "routes": [{"dst": "0.0.0.0/0", "gw": "10.10.0.1"}, {"dst": "0.0.0.0/0", "gw": "10.10.0.254"}]},
}


def static_cases(pdir: str, python: str) -> list[Case]:
    conf = json.dumps(STATIC_CONF).encode()
    bare = [python, "-I", "-S", "-c", "pass"]
    cases = [
        Case("interpreter start (python -I -S -c pass)",
             lambda: spawn(bare, {})[0:3:2], None, "the floor for any Python plugin",
             rss=((bare, {}), None)),
        Case("VERSION (static)", lambda: one(f"{pdir}/static", env_for("VERSION")),
             lambda: one(f"{REF}/static", env_for("VERSION"))),
        Case("static ADD", lambda: one(f"{pdir}/static", env_for("ADD", path=pdir), conf),
             lambda: one(f"{REF}/static", env_for("ADD", path=REF), conf),
             rss=(([f"{pdir}/static"], env_for("ADD", path=pdir), conf),
                  ([f"{REF}/static"], env_for("ADD", path=REF), conf))),
    ]
    return cases


class Netns:
    def __init__(self, tag: str) -> None:
        self.names: list[str] = []
        self.tag = tag

    def add(self, role: str) -> str:
        name = f"pycni-bench-{self.tag}-{role}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.names.append(name)
        return name

    def cleanup(self) -> None:
        for n in self.names:
            subprocess.run(["ip", "netns", "del", n], capture_output=True, check=False)


def cycle(ns_host: str, exe_dir: str, conf: bytes, netns_path: str, path: str) -> tuple[float, int]:
    t1, m1 = in_netns(ns_host, f"{exe_dir}/{json.loads(conf)['type']}", env_for("ADD", netns_path, path=path), conf)
    t2, m2 = in_netns(ns_host, f"{exe_dir}/{json.loads(conf)['type']}", env_for("DEL", netns_path, path=path), conf)
    return t1 + t2, max(m1, m2)


def chain_cases(pdir: str, nets: Netns) -> list[Case]:
    host = nets.add("host")
    cont = nets.add("c1")
    cpath = f"/var/run/netns/{cont}"
    ptp = dict(STATIC_CONF, type="ptp", name="benchptp")
    ptp["ipam"] = dict(STATIC_CONF["ipam"], addresses=[{"address": "10.10.0.2/24", "gateway": "10.10.0.1"}],
                       routes=[{"dst": "0.0.0.0/0", "gw": "10.10.0.1"}])
    ptp_b = json.dumps(ptp).encode()
    cases = [Case("ptp + static ADD+DEL (namespace)",
                  lambda: cycle(host, pdir, ptp_b, cpath, pdir), lambda: cycle(host, REF, ptp_b, cpath, REF),
                  "IPv4 only, so neither side waits for IPv6 DAD")]
    from pycni.plugins.registry import PLUGINS

    if "bridge" in PLUGINS and "host-local" in PLUGINS:
        data = tempfile.mkdtemp(prefix="pycni-bench-hl-")
        br = {"cniVersion": "1.0.0", "name": "benchbr", "type": "bridge", "bridge": "benchbr0", "isGateway": True,
              "ipam": {"type": "host-local", "dataDir": data, "ranges": [[{"subnet": "10.20.0.0/16"}]]}}
        br_b = json.dumps(br).encode()
        cases.append(Case("bridge + host-local ADD+DEL (namespace)",
                          lambda: cycle(host, pdir, br_b, cpath, pdir), lambda: cycle(host, REF, br_b, cpath, REF)))
    return cases


def parallel_round(exe_dir: str, host: str, conts: list[str], side: str, ipmasq: bool = False) -> list[dict]:
    """All of conts ADD on one bridge + host-local network at once, then all DEL at once: wall times."""
    data = tempfile.mkdtemp(prefix="pycni-bench-par-")
    conf = json.dumps({"cniVersion": "1.0.0", "name": "benchpar", "type": "bridge", "bridge": "benchpar0",
                       "isGateway": True, "ipMasq": ipmasq,
                       "ipam": {"type": "host-local", "dataDir": data,
                                "ranges": [[{"subnet": "10.30.0.0/16"}]]}}).encode()
    rows = []
    for cmd in ("ADD", "DEL"):
        procs = []
        t0 = time.perf_counter()
        for i, c in enumerate(conts):
            env = env_for(cmd, f"/var/run/netns/{c}", cid=f"par{i}", path=exe_dir)
            p = subprocess.Popen(["ip", "netns", "exec", host, f"{exe_dir}/bridge"], env=env, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            p.stdin.write(conf)
            p.stdin.close()
            procs.append(p)
        outs = []
        for p in procs:
            outs.append(p.stdout.read())
            p.wait()
        wall = time.perf_counter() - t0
        ok = sum(1 for p in procs if p.returncode == 0)
        distinct = len({json.loads(o)["ips"][0]["address"] for o in outs if o.strip()}) if cmd == "ADD" else None
        rows.append({"side": side, "command": cmd, "n": len(conts), "wall_s": wall, "ok": ok, "distinct": distinct})
    shutil.rmtree(data, ignore_errors=True)
    return rows


def parallel_case(pdir: str, nets: Netns, n: int = 100) -> list[dict]:
    """n ADDs on one bridge + host-local network at once, then n DELs: wall time and peak RSS."""
    from pycni.plugins.registry import PLUGINS

    if not ("bridge" in PLUGINS and "host-local" in PLUGINS):
        return []
    host = nets.add("phost")
    conts = [nets.add(f"p{i}") for i in range(n)]
    return parallel_round(pdir, host, conts, "pycni") + parallel_round(REF, host, conts, "reference")


def goals(rows: list[dict], par: list[dict]) -> list[str]:
    """The issue's goals, as ratios measured in this run (reported, never asserted)."""
    by = {r["case"]: r for r in rows}
    bare = next((r["pycni_ms"]["median"] for r in rows if r["case"].startswith("interpreter")), None)
    out = ["", "## Goals (ratios from this run)", "", "| goal | measured | met |", "|---|---|---|"]

    def line(goal: str, value: float | None, limit: float, fmt: str = "{:.2f}×", below: bool = True) -> None:
        if value is None:
            return
        ok = value <= limit if below else value >= limit
        out.append(f"| {goal} | {fmt.format(value)} | {'yes' if ok else 'no'} |")

    for case in ("VERSION (static)", "static ADD"):
        if bare and case in by:
            line(f"{case} ≤ 1.3× the bare interpreter start", by[case]["pycni_ms"]["median"] / bare, 1.3)
    for case in ("ptp + static ADD+DEL (namespace)", "bridge + host-local ADD+DEL (namespace)"):
        if case in by and "ratio" in by[case]:
            line(f"{case} ≤ 1.5× the reference", by[case]["ratio"], 1.5)
    walls = {(p["side"], p["command"]): p for p in par}
    if ("pycni", "ADD") in walls and ("reference", "ADD") in walls:
        py, rf = walls[("pycni", "ADD")], walls[("reference", "ADD")]
        line("100 parallel ADDs: wall time ≤ the reference's", py["wall_s"] / rf["wall_s"], 1.0)
        out.append(f"| 100 parallel ADDs: 100 distinct addresses | {py['distinct']} | "
                   f"{'yes' if py['distinct'] == 100 else 'no'} |")
    return out


def write_markdown(name: str, lines: list[str]) -> str:
    """Write bench/<name> from its lines; returns the path."""
    path = os.path.join(HERE, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def interpreter_version(python: str) -> str:
    p = subprocess.run([python, "-I", "-S", "-c", "import sys; print(sys.version.split()[0])"],
                       capture_output=True, text=True, check=True)
    return p.stdout.strip()


def write_results(rows: list[dict], par: list[dict], extra: list[str], python: str) -> None:
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "python": interpreter_version(python),
            "interpreter": os.path.realpath(python),
            "kernel": platform.release(), "cpus": os.cpu_count(), "reference": "Debian containernetworking-plugins"}
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump({"meta": meta, "cases": rows, "parallel": par}, f, indent=2)
    lines = ["# pycni benchmark results", "",
             f"{meta['date']}, launchers on `{meta['interpreter']}` (Python {meta['python']}), kernel {meta['kernel']}, "
             f"{meta['cpus']} CPUs. "
             "Whole-process times in ms (median, min–max), pycni and reference runs alternated in one session. "
             "Reproduce: `sudo python3 bench/run.py`.", "",
             "| case | pycni ms | reference ms | ratio | pycni RSS KiB | ref RSS KiB | note |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        p = r["pycni_ms"]
        rf = r.get("ref_ms")
        lines.append(
            f"| {r['case']} | {p['median']:.1f} ({p['min']:.1f}–{p['max']:.1f}) | "
            + (f"{rf['median']:.1f} ({rf['min']:.1f}–{rf['max']:.1f}) | {r['ratio']:.2f}× | " if rf else "– | – | ")
            + f"{r.get('pycni_rss_kib', '–')} | {r.get('ref_rss_kib', '–')} | {r['note']} |")
    if par:
        lines += ["", "## 100 parallel ADDs, then 100 DELs (bridge + host-local, one network)", "",
                  "| side | command | wall s | succeeded | distinct IPs |", "|---|---|---|---|---|"]
        for p in par:
            lines.append(f"| {p['side']} | {p['command']} | {p['wall_s']:.2f} | {p['ok']}/{p['n']} | "
                         f"{p['distinct'] if p['distinct'] is not None else '–'} |")
    lines += goals(rows, par)
    lines += extra
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="fewer runs, no parallel case, no host-local scale")
    ap.add_argument("--no-scale", action="store_true", help="skip the host-local 0/1k/10k/50k benchmark")
    ap.add_argument("--python", default=sys.executable, metavar="PATH",
                    help="the interpreter pycni's launchers run (pycni install-plugins --python); default: this one")
    a = ap.parse_args()
    runs = 5 if a.quick else a.runs
    from pycni.cli.install import install

    pdir = tempfile.mkdtemp(prefix="pycni-bench-bin-")
    install(pdir, python=a.python)
    nets = Netns(os.urandom(2).hex())
    rows: list[dict] = []
    par: list[dict] = []
    try:
        for case in static_cases(pdir, a.python):
            rows.append(measure(case, runs))
            print(rows[-1], flush=True)
        if os.geteuid() == 0:
            for case in chain_cases(pdir, nets):
                rows.append(measure(case, runs))
                print(rows[-1], flush=True)
            if not a.quick:
                par = parallel_case(pdir, nets)
                print(par, flush=True)
    finally:
        nets.cleanup()
        shutil.rmtree(pdir, ignore_errors=True)
    if not (a.quick or a.no_scale):
        sys.argv = [sys.argv[0]]
        host_local_scale.main()  # writes RESULTS-host-local.md
    extra = []
    hl = os.path.join(HERE, "RESULTS-host-local.md")
    if os.path.exists(hl):
        extra = ["", "host-local at scale: see [RESULTS-host-local.md](RESULTS-host-local.md) "
                 "(`python3 bench/host_local_scale.py`)."]
    if os.path.exists(os.path.join(HERE, "RESULTS-chain.md")):
        extra += ["", "podman's default chain (bridge → portmap → firewall → tuning), per call and with a breakdown "
                  "of pycni's time: see [RESULTS-chain.md](RESULTS-chain.md) (`sudo python3 bench/chain.py`)."]
    write_results(rows, par, extra, a.python)
    print(f"wrote {os.path.join(HERE, 'RESULTS.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
