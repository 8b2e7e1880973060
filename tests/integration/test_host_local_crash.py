"""SIGKILL host-local at every named step of ADD, DEL and GC; the store must stay sound.

host_local_killer.py runs the plugin with its kill_point hook replaced, so that it kills itself
(signal 9) at the named <command>:<step>; every other call is the installed launcher. After
each kill: no address is held twice, the staging area is clean, the next command sees the index
and the files agree (rebuilding once if the kill left it stale), and a retried DEL then ADD (what
a runtime does after a failed ADD) or a retried DEL completes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import pycni
from pycni.plugins.ipam.host_local.store import crash, inspect

SRC = os.path.dirname(os.path.dirname(os.path.abspath(pycni.__file__)))
KILLER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "host_local_killer.py")


def call(exe: str, cmd: str, conf: dict, cid: str, kill: str = "", ifname: str = "eth0"):
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": cid, "CNI_NETNS": "/var/run/netns/none", "CNI_IFNAME": ifname,
           "CNI_PATH": "/opt/cni/bin", "PATH": os.environ.get("PATH", "")}
    argv = [sys.executable, "-I", "-S", KILLER, SRC, kill] if kill else [exe]
    p = subprocess.run(argv, input=json.dumps(conf).encode(), env=env, capture_output=True, timeout=60)
    return p.returncode, (json.loads(p.stdout) if p.stdout.strip() else None)


def conf(tmp_path, ranges, ver: str = "1.1.0") -> dict:
    return {"cniVersion": ver, "name": "crashy", "ipam": {"type": "host-local", "dataDir": str(tmp_path),
                                                         "ranges": ranges}}


RANGES = [[{"subnet": "10.30.0.0/24"}], [{"subnet": "2001:db8:30::/64"}]]


def holders(tmp_path) -> dict[str, str]:
    d = tmp_path / "crashy"
    return {n: (d / n).read_bytes().decode() for n in os.listdir(d) if n[0].isdigit() or ":" in n}


def assert_sound(tmp_path) -> None:
    """No key holds two addresses of one range set; staging is empty; the index agrees."""
    per_key: dict[tuple[str, str], int] = {}
    for name, key in holders(tmp_path).items():
        rangeset = "v6" if ":" in name else name.rsplit(".", 2)[0]  # the sets here are 10.30/24, 10.31/30, v6
        per_key[(key, rangeset)] = per_key.get((key, rangeset), 0) + 1
    assert all(v == 1 for v in per_key.values()), per_key
    fresh, problems = inspect.check_index(str(tmp_path), "crashy")
    assert fresh and problems == []
    assert os.listdir(tmp_path / ".pycni-index" / "crashy" / "tmp") == []
    assert not [n for n in os.listdir(tmp_path / "crashy") if n.startswith(".pycni-tmp")]


def populate(exe, tmp_path, c, n: int = 5) -> None:
    for i in range(n):
        assert call(exe, "ADD", c, f"bystander{i}")[0] == 0


ADD_STEPS = ["add:locked", "add:staged", "add:linked", "add:reserved", "add:buckets-written", "add:committed",
             "add:done"]


@pytest.mark.parametrize("step", ADD_STEPS + ["add:rebuild-scanned", "add:rebuild-swapped"])
def test_kill_during_add(tmp_path, pycni_bin, step):
    c = conf(tmp_path, RANGES)
    populate(pycni_bin, tmp_path, c)
    if "rebuild" in step:  # make the index stale, as a reference-binary ADD would
        (tmp_path / "crashy" / "10.30.0.200").write_text("refctr\r\neth0")
    before = holders(tmp_path)
    rc, _ = call(pycni_bin, "ADD", c, "victim", kill=step)
    assert rc == -9, f"step {step} was not reached"
    # the runtime saw ADD fail: it calls DEL, then retries ADD
    assert call(pycni_bin, "DEL", c, "victim") == (0, None)
    assert_sound(tmp_path)
    assert holders(tmp_path) == before
    rc, out = call(pycni_bin, "ADD", c, "victim")
    assert rc == 0, out
    assert len(out["ips"]) == 2
    assert_sound(tmp_path)
    assert call(pycni_bin, "CHECK", c, "victim")[0] == 0


@pytest.mark.parametrize("step", ["add:staged", "add:linked", "add:reserved", "add:committed"])
def test_retried_add_without_del_either_succeeds_or_reports_the_partial_allocation(tmp_path, pycni_bin, step):
    c = conf(tmp_path, RANGES)
    populate(pycni_bin, tmp_path, c, 2)
    assert call(pycni_bin, "ADD", c, "victim", kill=step)[0] == -9
    rc, out = call(pycni_bin, "ADD", c, "victim")
    held = sorted(n for n, k in holders(tmp_path).items() if k == "victim\r\neth0")
    if rc == 0:
        assert sorted(i["address"].split("/")[0] for i in out["ips"]) == sorted(held)
    else:
        assert out["msg"] == f"failed to allocate for range 0: {held[0]} has been allocated to victim, " \
                             "duplicate allocation is not allowed"
    assert_sound(tmp_path)


def test_kill_during_add_rollback(tmp_path, pycni_bin):
    c = conf(tmp_path, [[{"subnet": "10.30.0.0/24"}], [{"subnet": "10.31.0.0/30"}]])
    assert call(pycni_bin, "ADD", c, "filler", ifname="eth9")[0] == 0  # set 1 now full
    rc, _ = call(pycni_bin, "ADD", c, "victim", kill="add:unlinked")
    assert rc == -9
    rc, out = call(pycni_bin, "ADD", c, "victim")
    assert (rc, out["msg"]) == (1, "failed to allocate for range 1: no IP addresses available in range set: "
                                   "10.31.0.1-10.31.0.2")
    assert sorted(holders(tmp_path)) == ["10.30.0.2", "10.31.0.2"]
    assert_sound(tmp_path)


DEL_STEPS = ["del:locked", "del:unlinked", "del:buckets-written", "del:committed", "del:done"]


@pytest.mark.parametrize("step", DEL_STEPS + ["del:rebuild-scanned", "del:rebuild-swapped"])
def test_kill_during_del(tmp_path, pycni_bin, step):
    c = conf(tmp_path, RANGES)
    populate(pycni_bin, tmp_path, c)
    assert call(pycni_bin, "ADD", c, "victim")[0] == 0
    if "rebuild" in step:
        (tmp_path / "crashy" / "10.30.0.200").write_text("refctr\r\neth0")
    before = {n: k for n, k in holders(tmp_path).items() if k != "victim\r\neth0"}
    rc, _ = call(pycni_bin, "DEL", c, "victim", kill=step)
    assert rc == -9, f"step {step} was not reached"
    assert call(pycni_bin, "DEL", c, "victim") == (0, None)
    assert holders(tmp_path) == before
    assert_sound(tmp_path)
    assert call(pycni_bin, "ADD", c, "victim")[0] == 0
    assert_sound(tmp_path)


@pytest.mark.parametrize("step", ["gc:locked", "gc:unlinked", "gc:buckets-written", "gc:committed"])
def test_kill_during_gc(tmp_path, pycni_bin, step):
    c = conf(tmp_path, RANGES)
    populate(pycni_bin, tmp_path, c, 6)
    g = dict(c, **{"cni.dev/valid-attachments": [{"containerID": f"bystander{i}", "ifname": "eth0"}
                                                   for i in range(0, 6, 2)]})
    assert call(pycni_bin, "GC", g, "", kill=step)[0] == -9
    assert call(pycni_bin, "GC", g, "") == (0, None)
    assert sorted(set(holders(tmp_path).values())) == [f"bystander{i}\r\neth0" for i in range(0, 6, 2)]
    assert_sound(tmp_path)


def test_kill_points_are_inert_unless_a_test_replaces_the_hook():
    assert crash.kill_point is crash._inert
    crash.kill_point("add:linked")  # does nothing


def test_production_code_reads_no_kill_request():
    """Crash injection is a hook a test installs, not something the plugin looks up at run time."""
    pkg = os.path.join(SRC, "pycni", "plugins", "ipam", "host_local")
    for root, _, files in os.walk(pkg):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(root, f)) as fh:
                    text = fh.read()
                assert "KILL_AT" not in text and "environ" not in text, f
