"""100 host-local processes at once on one network: distinct addresses, a consistent store.

The processes are the installed launchers (`pycni install-plugins`), all started before any is
waited for; the per-network flock serialises them as it does the reference binary.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from pycni.plugins.ipam.host_local.store import inspect

N = 100


def start(exe: str, cmd: str, conf: dict, cid: str, ifname: str = "eth0") -> subprocess.Popen:
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": cid, "CNI_NETNS": "/var/run/netns/none", "CNI_IFNAME": ifname,
           "CNI_PATH": "/opt/cni/bin", "PATH": os.environ.get("PATH", "")}
    p = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    p.stdin.write(json.dumps(conf).encode())
    p.stdin.close()
    return p


def finish(procs: list[subprocess.Popen]) -> list[tuple[int, bytes]]:
    out = []
    for p in procs:
        stdout = p.stdout.read()
        p.stdout.close()
        p.stderr.close()
        out.append((p.wait(timeout=120), stdout))
    return out


def conf(tmp_path, ranges) -> dict:
    return {"cniVersion": "1.1.0", "name": "busy", "ipam": {"type": "host-local", "dataDir": str(tmp_path),
                                                           "ranges": ranges}}


def test_100_parallel_adds_then_100_parallel_dels(tmp_path, pycni_bin):
    c = conf(tmp_path, [[{"subnet": "10.20.0.0/16"}], [{"subnet": "2001:db8:20::/64"}]])
    results = finish([start(pycni_bin, "ADD", c, f"ctr{i:03d}") for i in range(N)])
    assert [rc for rc, _ in results] == [0] * N, [o for rc, o in results if rc]
    v4, v6 = [], []
    for _, out in results:
        ips = [i["address"] for i in json.loads(out)["ips"]]
        v4.append(ips[0])
        v6.append(ips[1])
    assert len(set(v4)) == N and len(set(v6)) == N  # 100 distinct, 0 duplicates
    assert sorted(v4) == sorted(f"10.20.0.{i}/16" for i in range(2, N + 2))
    d = tmp_path / "busy"
    held = [n for n in os.listdir(d) if n[0].isdigit()]
    assert len(held) == 2 * N
    holders = sorted((d / n).read_bytes().decode() for n in held)
    assert holders == sorted(f"ctr{i:03d}\r\neth0" for i in range(N) for _ in range(2))
    fresh, problems = inspect.check_index(str(tmp_path), "busy")
    assert fresh and problems == []

    results = finish([start(pycni_bin, "DEL", c, f"ctr{i:03d}") for i in range(N)])
    assert [rc for rc, _ in results] == [0] * N, [(rc, o) for rc, o in results if rc]
    assert sorted(os.listdir(d)) == ["last_reserved_ip.0", "last_reserved_ip.1", "lock"]
    fresh, problems = inspect.check_index(str(tmp_path), "busy")
    assert fresh and problems == []
    assert inspect.read_state(str(tmp_path), "busy").count == 0


def test_parallel_adds_on_a_small_pool_never_double_book(tmp_path, pycni_bin):
    c = conf(tmp_path, [[{"subnet": "10.21.0.0/26"}]])  # 61 addresses for 80 callers
    results = finish([start(pycni_bin, "ADD", c, f"c{i}") for i in range(80)])
    good = [json.loads(o)["ips"][0]["address"] for rc, o in results if rc == 0]
    bad = [json.loads(o)["msg"] for rc, o in results if rc != 0]
    assert len(good) == 61 and len(set(good)) == 61
    assert set(bad) == {"failed to allocate for range 0: no IP addresses available in range set: 10.21.0.1-10.21.0.62"}


@pytest.mark.skipif(not os.access("/usr/lib/cni/host-local", os.X_OK), reason="reference binary not installed")
def test_parallel_mix_with_the_reference_binary(tmp_path, pycni_bin):
    c = conf(tmp_path, [[{"subnet": "10.22.0.0/24"}]])
    c["cniVersion"] = "1.0.0"
    procs = [start("/usr/lib/cni/host-local" if i % 2 else pycni_bin, "ADD", c, f"m{i}") for i in range(60)]
    results = finish(procs)
    assert [rc for rc, _ in results] == [0] * 60
    got = [json.loads(o)["ips"][0]["address"] for _, o in results]
    assert len(set(got)) == 60
    results = finish([start("/usr/lib/cni/host-local" if i % 3 else pycni_bin, "DEL", c, f"m{i}") for i in range(60)])
    assert [rc for rc, _ in results] == [0] * 60
    assert sorted(os.listdir(tmp_path / "busy")) == ["last_reserved_ip.0", "lock"]
