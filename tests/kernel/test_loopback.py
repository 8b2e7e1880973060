"""loopback through the installed executable, next to the reference binary, in fresh namespaces."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

REF = "/usr/lib/cni"


def run(exe: str, command: str, netns: str, conf: dict) -> subprocess.CompletedProcess:
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": "lo1", "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
           "CNI_PATH": os.path.dirname(exe), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    return subprocess.run([exe], input=json.dumps(conf).encode(), env=env, capture_output=True, timeout=30)


CONF = {"cniVersion": "1.0.0", "name": "lo", "type": "loopback"}


def lo_state(iproute2, ns: str) -> tuple[bool, list[str]]:
    (lo,) = iproute2.ipj(ns, "addr", "show", "dev", "lo")
    return "UP" in lo["flags"], sorted(f"{a['local']}/{a['prefixlen']}" for a in lo["addr_info"])


def fresh_ns(iproute2, netns_factory) -> str:
    ns = netns_factory.new("lo")
    iproute2.ip(ns, "link", "set", "lo", "down")  # the factory brings lo up; start as a runtime would
    return ns


@pytest.mark.parametrize("side", ["pycni", "reference"])
def test_add_check_del_check(side, netns_factory, iproute2, pycni_dir):
    exe = f"{pycni_dir}/loopback" if side == "pycni" else f"{REF}/loopback"
    if not os.path.exists(exe):
        pytest.skip("reference loopback binary not installed")
    ns = fresh_ns(iproute2, netns_factory)
    path = f"/run/netns/{ns}"
    p = run(exe, "ADD", path, CONF)
    assert p.returncode == 0, p.stdout
    res = json.loads(p.stdout)
    assert res["interfaces"] == [{"name": "lo", "mac": "00:00:00:00:00:00", "sandbox": path}]
    assert [ip["address"] for ip in res["ips"]] == ["127.0.0.1/8", "::1/128"]
    assert all(ip["interface"] == 0 for ip in res["ips"])
    assert lo_state(iproute2, ns)[0]
    assert run(exe, "CHECK", path, CONF).returncode == 0
    assert run(exe, "DEL", path, CONF).returncode == 0
    assert not lo_state(iproute2, ns)[0]
    p = run(exe, "CHECK", path, CONF)
    assert p.returncode == 1 and json.loads(p.stdout)["msg"] == "loopback interface is down"


def test_prev_result_is_passed_through(netns_factory, iproute2, pycni_dir):
    ns = fresh_ns(iproute2, netns_factory)
    prev = {"cniVersion": "1.0.0", "ips": [{"address": "10.1.2.3/24"}], "dns": {"nameservers": ["10.0.0.53"]}}
    p = run(f"{pycni_dir}/loopback", "ADD", f"/run/netns/{ns}", dict(CONF, prevResult=prev))
    assert p.returncode == 0
    assert json.loads(p.stdout) == prev


def test_non_loopback_address_on_lo_is_refused(netns_factory, iproute2, pycni_dir):
    ns = fresh_ns(iproute2, netns_factory)
    iproute2.ip(ns, "addr", "add", "10.9.9.9/32", "dev", "lo")
    p = run(f"{pycni_dir}/loopback", "ADD", f"/run/netns/{ns}", CONF)
    assert p.returncode == 1
    assert json.loads(p.stdout)["msg"] == 'loopback interface found with non-loopback address "10.9.9.9"'


def test_del_succeeds_without_netns_or_with_it_gone(netns_factory, iproute2, pycni_dir):
    assert run(f"{pycni_dir}/loopback", "DEL", "", CONF).returncode == 0
    ns = fresh_ns(iproute2, netns_factory)
    subprocess.run(["ip", "netns", "del", ns], check=True)
    assert run(f"{pycni_dir}/loopback", "DEL", f"/run/netns/{ns}", CONF).returncode == 0


def test_old_versions_get_a_result_in_their_own_format(netns_factory, iproute2, pycni_dir):
    ns = fresh_ns(iproute2, netns_factory)
    p = run(f"{pycni_dir}/loopback", "ADD", f"/run/netns/{ns}", dict(CONF, cniVersion="0.2.0"))
    res = json.loads(p.stdout)
    assert res["ip4"]["ip"] == "127.0.0.1/8" and res["ip6"]["ip"] == "::1/128"
