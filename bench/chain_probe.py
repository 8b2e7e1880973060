"""Run one pycni plugin command in this interpreter and say where its time went (bench/chain.py uses it).

Usage: python -I -S bench/chain_probe.py SRC_DIR MODULE MODE [MODULES [BUNDLE]]   (env, stdin as for the plugin)
BUNDLE: the launcher's precompiled bundle (`<dir>/.pycni/<name>.bundle`), loaded first as the launcher does,
so the import times are the launcher's.
MODE `modules`: report the modules the command loads. MODE `imports`: import that list (argv[4]) and
report the time (no command is run). MODE `work`: import the list first, then run the command (and report
the modules it loaded on top, with the list) with timers wrapped around
helper programs (pycni.linux.spawn.observer, the in-process hook: no environment variable), netlink
requests, fsync and in-process IPAM; times are exclusive (IPAM's fsyncs count as fsync).
One line `PYCNI-PROBE <json-ish>` on stderr; the plugin's own output stays on stdout.
"""

import sys
import time

root, module, mode = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, root)
if len(sys.argv) > 5 and sys.argv[5]:  # the launcher's bundle loader, verbatim in effect
    import _frozen_importlib_external as _fe
    import marshal
    import posix as _posix

    _fd = _posix.open(sys.argv[5], _posix.O_RDONLY)
    _h = _posix.pread(_fd, 8, 0)
    if _h[:4] == _fe.MAGIC_NUMBER:
        _n = int.from_bytes(_h[4:], "little")
        _c, _m = marshal.loads(_posix.pread(_fd, _n, 8))
        exec(_c, {"fd": _fd, "base": 8 + _n, "modules": _m})


def report(fields: dict) -> None:
    sys.stderr.write("\nPYCNI-PROBE " + " ".join(f"{k}={v}" for k, v in fields.items()) + "\n")


if mode == "modules":
    before = set(sys.modules)
    plugin = __import__(module, fromlist=["PLUGIN"])
    from pycni.skel import main

    try:
        main(plugin.PLUGIN)
    except SystemExit:
        pass
    report({"modules": ",".join(sorted(set(sys.modules) - before))})
    sys.exit(0)

names = [m for m in (sys.argv[4].split(",") if len(sys.argv) > 4 else []) if m]
t0 = time.perf_counter()
for name in names:
    try:
        __import__(name)
    except ImportError:
        pass
imports = time.perf_counter() - t0
if mode == "imports":
    report({"imports_ms": f"{imports * 1000:.3f}"})
    sys.exit(0)

import posix  # noqa: E402  (after the modes that must load nothing)

from pycni.linux import spawn  # noqa: E402

totals: dict[str, float] = {"helpers": 0.0, "netlink": 0.0, "fsync": 0.0, "ipam": 0.0}
counts: dict[str, int] = {"helpers": 0, "fsync": 0, "netlink": 0}
stack: list[list] = []  # [category, start, time spent in nested categories]


def timed(cat: str, fn):  # type: ignore[no-untyped-def]
    def wrapper(*a, **k):  # type: ignore[no-untyped-def]
        stack.append([cat, time.perf_counter(), 0.0])
        try:
            return fn(*a, **k)
        finally:
            c, start, nested = stack.pop()
            dt = time.perf_counter() - start
            totals[c] += dt - nested
            if stack:
                stack[-1][2] += dt
            if c in counts:
                counts[c] += 1
    return wrapper


helper_argv: list[str] = []


def observe(argv: list[str], seconds: float, status: int) -> None:
    helper_argv.append(argv[0].rsplit("/", 1)[-1])


spawn.run = timed("helpers", spawn.run)
spawn.observer = observe
posix.fsync = timed("fsync", posix.fsync)
if "os" in sys.modules:
    sys.modules["os"].fsync = posix.fsync
try:
    from pycni.netlink import socket as nls

    for meth in ("request", "query", "dump"):
        setattr(nls.NetlinkSocket, meth, timed("netlink", getattr(nls.NetlinkSocket, meth)))
except ImportError:
    pass
try:
    from pycni import invoke

    invoke.delegate = timed("ipam", invoke.delegate)
except ImportError:
    pass

plugin = __import__(module, fromlist=["PLUGIN"])
from pycni.skel import main  # noqa: E402  (after the plugin, as the launcher does)

loaded = set(sys.modules)
rc = 0
t1 = time.perf_counter()
try:
    main(plugin.PLUGIN)
except SystemExit as done:
    rc = done.code if isinstance(done.code, int) else 1
work = time.perf_counter() - t1
report({"work_ms": f"{work * 1000:.3f}", "modules": ",".join(sorted(set(sys.modules) - loaded | set(names))) or "-", **{f"{k}_ms": f"{v * 1000:.3f}" for k, v in totals.items()},
        **{f"{k}_n": v for k, v in counts.items()}, "helper_progs": ",".join(helper_argv) or "-"})
sys.exit(rc)
