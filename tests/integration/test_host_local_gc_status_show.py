"""host-local GC and STATUS through the executable, and `pycni ipam show` over the same store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def call(exe: str, cmd: str, conf: dict, cid: str = "", ifname: str = "eth0"):
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": cid, "CNI_NETNS": "/var/run/netns/none", "CNI_IFNAME": ifname,
           "CNI_PATH": "/opt/cni/bin", "PATH": os.environ.get("PATH", "")}
    p = subprocess.run([exe], input=json.dumps(conf).encode(), env=env, capture_output=True, timeout=60)
    return p.returncode, (json.loads(p.stdout) if p.stdout.strip() else None)


def show(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pycni.cli.main", "ipam", "show", *args],
                          capture_output=True, text=True, timeout=60)


def conf(tmp_path, name: str = "pool", **extra) -> dict:
    c = {"cniVersion": "1.1.0", "name": name,
         "ipam": {"type": "host-local", "dataDir": str(tmp_path),
                  "ranges": [[{"subnet": "10.40.0.0/29"}, {"subnet": "10.40.1.0/30"}], [{"subnet": "2001:db8:40::/64"}]]}}
    c.update(extra)
    return c


def test_gc_releases_missed_dels(tmp_path, pycni_bin):
    c = conf(tmp_path)
    for i in range(4):
        assert call(pycni_bin, "ADD", c, f"c{i}")[0] == 0
    # c1 and c3 died without a DEL (reboot, lost runtime state): GC with the survivors
    g = conf(tmp_path, **{"cni.dev/valid-attachments": [{"containerID": "c0", "ifname": "eth0"},
                                                         {"containerID": "c2", "ifname": "eth0"}]})
    assert call(pycni_bin, "GC", g) == (0, None)
    d = tmp_path / "pool"
    held = sorted((d / n).read_bytes().decode() for n in os.listdir(d) if n[0].isdigit())
    assert held == ["c0\r\neth0", "c0\r\neth0", "c2\r\neth0", "c2\r\neth0"]
    assert call(pycni_bin, "ADD", c, "c1")[0] == 0  # the released key may allocate again
    assert call(pycni_bin, "CHECK", c, "c3")[1]["msg"] == "host-local: Failed to find address added by container c3"


def test_gc_below_1_1_0_is_refused(tmp_path, pycni_bin):
    c = conf(tmp_path)
    c["cniVersion"] = "1.0.0"
    assert call(pycni_bin, "GC", c) == (1, {"code": 1, "msg": "config version does not allow GC"})


def test_status_reports_a_full_pool_with_code_50(tmp_path, pycni_bin):
    c = conf(tmp_path)
    assert call(pycni_bin, "STATUS", c) == (0, None)
    # set 0 holds .2-.6 of the /29 (gateway .1 skipped) and .2 of the /30: 6 addresses
    for i in range(6):
        assert call(pycni_bin, "ADD", c, f"c{i}")[0] == 0
    rc, out = call(pycni_bin, "STATUS", c)
    assert rc == 1 and out["code"] == 50
    assert out["msg"] == ("host-local: no free addresses in range set 0 (10.40.0.1-10.40.0.6,10.40.1.1-10.40.1.2): "
                          "6 of 6 allocated")
    assert call(pycni_bin, "DEL", c, "c3")[0] == 0
    assert call(pycni_bin, "STATUS", c) == (0, None)


def test_status_unusable_data_dir(tmp_path, pycni_bin):
    f = tmp_path / "file"
    f.write_text("")
    c = conf(f)
    rc, out = call(pycni_bin, "STATUS", c)
    assert (rc, out["code"]) == (1, 50)
    assert out["msg"] == f"host-local: data directory unusable: mkdir {f}: not a directory"


def test_ipam_show_text_and_json(tmp_path, pycni_bin):
    c = conf(tmp_path)
    for i in range(3):
        assert call(pycni_bin, "ADD", c, f"c{i}")[0] == 0
    p = show("--data-dir", str(tmp_path))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == f"network pool  ({tmp_path}/pool)  allocated 6"
    assert "  range set 0: capacity 6  used 3  free 3  last reserved 10.40.0.4" in lines
    assert any(line.startswith("    10.40.0.0/29  10.40.0.1-10.40.0.6  gateway 10.40.0.1  capacity 5  used 3  free 2")
               for line in lines)
    assert any(line.split() == ["10.40.0.3", "c1", "eth0"] for line in lines)
    p = show("--data-dir", str(tmp_path), "pool", "--json")
    view = json.loads(p.stdout)
    net = view["networks"][0]
    assert net["name"] == "pool" and net["allocated"] == 6 and net["rangesKnown"] and net["indexUsed"]
    rs0, rs1 = net["rangeSets"]
    assert (rs0["capacity"], rs0["used"], rs0["free"]) == (6, 3, 3)
    assert rs1["capacity"] == 2**64 - 2 and rs1["used"] == 3
    assert rs0["holders"][0] == {"ip": "10.40.0.2", "containerID": "c0", "ifname": "eth0"}
    assert net["otherHolders"] == []


@pytest.mark.skipif(not os.access("/usr/lib/cni/host-local", os.X_OK), reason="reference binary not installed")
def test_ipam_show_on_a_reference_only_network(tmp_path):
    c = conf(tmp_path, name="refnet")
    c["cniVersion"] = "1.0.0"
    assert call("/usr/lib/cni/host-local", "ADD", c, "r1")[0] == 0
    p = show("--data-dir", str(tmp_path), "--json")
    net = json.loads(p.stdout)["networks"][0]
    assert net["rangesKnown"] is False and net["allocated"] == 2 and not net["indexUsed"]
    assert {h["ip"] for h in net["otherHolders"]} == {"10.40.0.2", "2001:db8:40::2"}
    text = show("--data-dir", str(tmp_path)).stdout
    assert "capacity unknown" in text


def test_ipam_show_missing_network(tmp_path):
    p = show("--data-dir", str(tmp_path), "nope")
    assert p.returncode == 1 and "no network 'nope'" in p.stderr
    p = show("--data-dir", str(tmp_path / "empty"))
    assert p.returncode == 0 and p.stdout.startswith("no host-local networks in")
