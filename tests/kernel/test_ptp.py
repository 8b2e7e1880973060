"""ptp + static through the installed executables, in namespaces this module creates.

Covers the seed case (two IPv4 and two IPv6 default gateways -> one multipath route per family, with
the kernel's weights), CHECK passing and then failing, DEL twice and with the namespace gone, and real
traffic: the container's ptp host end is put on a bridge with two gateway namespaces, flows are counted
by nft in each gateway, for pycni and, side by side, for the reference ptp/static binaries.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

REF = "/usr/lib/cni"
FLOWS = 128


def seed_conf(version: str = "1.1.0", w: tuple[int, int] | None = None, dad: str | None = "skip") -> dict:
    r4 = [{"dst": "0.0.0.0/0", "gw": "10.10.0.254"}, {"dst": "0.0.0.0/0", "gw": "10.10.0.253"}]
    r6 = [{"dst": "::/0", "gw": "fd10::fe"}, {"dst": "::/0", "gw": "fd10::fd"}]
    if w:
        for pair in (r4, r6):
            pair[0]["weight"], pair[1]["weight"] = w
    conf = {"cniVersion": version, "name": "seed", "type": "ptp",
            "ipam": {"type": "static",
                     "addresses": [{"address": "10.10.0.2/24", "gateway": "10.10.0.254"},
                                   {"address": "fd10::2/64", "gateway": "fd10::fe"}],
                     "routes": r4 + r6}}
    if dad:
        conf["dad"] = dad
    return conf


def run(exe_dir: str, command: str, host: str, cont: str, conf: dict, cid: str = "ctr1",
        extra_path: str = "") -> subprocess.CompletedProcess:
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": f"/run/netns/{cont}" if cont else "",
           "CNI_IFNAME": "eth0", "CNI_PATH": exe_dir + (":" + extra_path if extra_path else ""),
           "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    return subprocess.run(["ip", "netns", "exec", host, f"{exe_dir}/ptp"], input=json.dumps(conf).encode(),
                          env=env, capture_output=True, timeout=60)


def ok(p: subprocess.CompletedProcess) -> dict | None:
    assert p.returncode == 0, f"exit {p.returncode}: {p.stdout.decode()} {p.stderr.decode()}"
    return json.loads(p.stdout) if p.stdout.strip() else None


def defaults(iproute2, ns: str, fam: str) -> list[dict]:
    return [r for r in iproute2.routes(ns, fam) if r["dst"] == "default"]


def test_seed_ecmp_config_gives_one_multipath_default_route_per_family(netns_factory, iproute2, pycni_dir):
    host, cont = netns_factory.new("h"), netns_factory.new("c")
    result = ok(run(pycni_dir, "ADD", host, cont, seed_conf()))
    assert [r["gw"] for r in result["routes"]] == ["10.10.0.254", "10.10.0.253", "fd10::fe", "fd10::fd"]
    for fam, gws in (("-4", ["10.10.0.254", "10.10.0.253"]), ("-6", ["fd10::fe", "fd10::fd"])):
        routes = defaults(iproute2, cont, fam)
        assert len(routes) == 1, routes
        assert [nh["gateway"] for nh in routes[0]["nexthops"]] == gws


def test_weights_reach_the_kernel(netns_factory, iproute2, pycni_dir):
    host, cont = netns_factory.new("h"), netns_factory.new("c")
    ok(run(pycni_dir, "ADD", host, cont, seed_conf(w=(1, 3))))
    for fam in ("-4", "-6"):
        (route,) = defaults(iproute2, cont, fam)
        assert [nh.get("weight", 1) for nh in route["nexthops"]] == [1, 3]


def test_dad_wait_is_the_default_and_still_works(netns_factory, iproute2, pycni_dir):
    host, cont = netns_factory.new("h"), netns_factory.new("c")
    ok(run(pycni_dir, "ADD", host, cont, seed_conf(dad=None)))
    v6 = iproute2.addrs(cont, "eth0", "inet6")
    assert any(a["local"] == "fd10::2" and not a.get("tentative") for a in v6)


def test_check_passes_then_fails_when_address_or_nexthop_is_removed(netns_factory, iproute2, pycni_dir):
    host, cont = netns_factory.new("h"), netns_factory.new("c")
    conf = seed_conf()
    result = ok(run(pycni_dir, "ADD", host, cont, conf))
    checked = dict(conf, prevResult=result)
    ok(run(pycni_dir, "CHECK", host, cont, checked))
    iproute2.ip(cont, "route", "replace", "default", "via", "10.10.0.254", "dev", "eth0")
    p = run(pycni_dir, "CHECK", host, cont, checked)
    assert p.returncode == 1 and "10.10.0.253" in json.loads(p.stdout)["msg"]
    iproute2.ip(cont, "route", "replace", "default", "nexthop", "via", "10.10.0.254", "dev", "eth0", "onlink",
                "nexthop", "via", "10.10.0.253", "dev", "eth0", "onlink")
    ok(run(pycni_dir, "CHECK", host, cont, checked))
    iproute2.ip(cont, "addr", "del", "fd10::2/64", "dev", "eth0")
    p = run(pycni_dir, "CHECK", host, cont, checked)
    assert p.returncode == 1 and "fd10::2" in json.loads(p.stdout)["msg"]


def test_check_without_prev_result_is_an_error(netns_factory, pycni_dir):
    # As upstream, ptp runs the IPAM CHECK first, so static's own complaint comes back.
    host, cont = netns_factory.new("h"), netns_factory.new("c")
    conf = seed_conf()
    ok(run(pycni_dir, "ADD", host, cont, conf))
    p = run(pycni_dir, "CHECK", host, cont, conf)
    assert p.returncode == 1 and json.loads(p.stdout)["msg"] == "Required prevResult missing"


def test_del_twice_and_with_the_namespace_gone(netns_factory, iproute2, pycni_dir):
    host, cont = netns_factory.new("h"), netns_factory.new("c")
    conf = seed_conf()
    ok(run(pycni_dir, "ADD", host, cont, conf))
    veths = [l["ifname"] for l in iproute2.ipj(host, "link") if l["ifname"].startswith("veth")]
    assert len(veths) == 1
    ok(run(pycni_dir, "DEL", host, cont, conf))
    assert not [l for l in iproute2.ipj(host, "link") if l["ifname"].startswith("veth")]
    ok(run(pycni_dir, "DEL", host, cont, conf))
    ok(run(pycni_dir, "ADD", host, cont, conf, cid="ctr2"))
    subprocess.run(["ip", "netns", "del", cont], check=True)
    ok(run(pycni_dir, "DEL", host, cont, conf, cid="ctr2"))
    ok(run(pycni_dir, "DEL", host, "", conf, cid="ctr2"))


def test_ip_masq_rules_are_added_and_removed(netns_factory, iproute2, pycni_dir):
    if shutil.which("iptables") is None:
        pytest.skip("iptables is not installed")
    host, cont = netns_factory.new("h"), netns_factory.new("c")
    conf = dict(seed_conf(), ipMasq=True)
    ok(run(pycni_dir, "ADD", host, cont, conf))
    rules = iproute2.run("iptables-save", "-t", "nat", ns=host).stdout
    assert "-j MASQUERADE" in rules and '--comment "name: \\"seed\\" id: \\"ctr1\\""' in rules
    ok(run(pycni_dir, "DEL", host, cont, conf))
    assert "CNI-" not in iproute2.run("iptables-save", "-t", "nat", ns=host).stdout


# --- real traffic: the ptp host end on a bridge with two gateway namespaces -------------------------

NFT_COUNT = """
table inet pycni_count {
  counter v4 {}
  counter v6 {}
  chain pre { type filter hook prerouting priority -300; policy accept;
    ip daddr 198.51.100.7 udp dport 9999 counter name v4
    ip6 daddr 2001:db8:ffff::7 udp dport 9999 counter name v6
  }
}
"""

SENDER = """
import socket, sys, time
fam, dst, n = (socket.AF_INET if sys.argv[1] == "4" else socket.AF_INET6), sys.argv[2], int(sys.argv[3])
socks = [socket.socket(fam, socket.SOCK_DGRAM) for _ in range(n)]
for s in socks:
    s.sendto(b"x", (dst, 9999))
    time.sleep(0.002)
"""


def traffic_conf(version: str) -> dict:
    return {"cniVersion": version, "name": "ecmp", "type": "ptp",
            "ipam": {"type": "static",
                     "addresses": [{"address": "10.10.0.2/24", "gateway": "10.10.0.1"},
                                   {"address": "fd10::2/64", "gateway": "fd10::1"}],
                     "routes": [{"dst": "0.0.0.0/0", "gw": "10.10.0.1"}, {"dst": "0.0.0.0/0", "gw": "10.10.0.254"},
                                {"dst": "::/0", "gw": "fd10::1"}, {"dst": "::/0", "gw": "fd10::fe"}]}}


def split_through(exe_dir: str, version: str, netns_factory, iproute2, extra_path: str = "") -> dict[str, list[int]]:
    lan, cont = netns_factory.new("lan"), netns_factory.new("c")
    gws = [netns_factory.new("gw1"), netns_factory.new("gw2")]
    iproute2.ip(lan, "link", "add", "br0", "type", "bridge")
    iproute2.ip(lan, "link", "set", "br0", "up")
    for i, (gw, a4, a6) in enumerate(zip(gws, ("10.10.0.1/24", "10.10.0.254/24"), ("fd10::1/64", "fd10::fe/64"))):
        iproute2.ip(lan, "link", "add", f"gwp{i}", "type", "veth", "peer", "name", "eth0", "netns", gw)
        iproute2.ip(lan, "link", "set", f"gwp{i}", "master", "br0", "up")
        iproute2.ip(gw, "addr", "add", a4, "dev", "eth0")
        iproute2.ip(gw, "addr", "add", a6, "dev", "eth0", "nodad")
        iproute2.ip(gw, "link", "set", "eth0", "up")
        iproute2.run("nft", "-f", "-", ns=gw, input=NFT_COUNT)
    conf = traffic_conf(version)
    conf_env = dict(conf)
    ok(run(exe_dir, "ADD", lan, cont, conf_env, extra_path=extra_path))
    (veth,) = [l["ifname"] for l in iproute2.ipj(lan, "link") if l["ifname"].startswith("veth")]
    # ptp put the gateway address on its host end; as a bridge port that end must not answer for it.
    iproute2.ip(lan, "addr", "flush", "dev", veth)
    iproute2.ip(lan, "link", "set", veth, "master", "br0")
    iproute2.ip(cont, "neigh", "flush", "all")
    for fam in ("ipv4", "ipv6"):
        iproute2.run("sysctl", "-qw", f"net.{fam}.fib_multipath_hash_policy=1", ns=cont)
    iproute2.run("sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0", ns=cont, check=False)
    out = {}
    for fam, dst, key in (("4", "198.51.100.7", "v4"), ("6", "2001:db8:ffff::7", "v6")):
        iproute2.run("python3", "-c", SENDER, fam, dst, "16", ns=cont)  # neighbours resolved first
        time.sleep(0.3)
        for gw in gws:
            iproute2.run("nft", "reset", "counters", "table", "inet", "pycni_count", ns=gw)
        iproute2.run("python3", "-c", SENDER, fam, dst, str(FLOWS), ns=cont)
        counts = []
        for gw in gws:
            data = json.loads(iproute2.run("nft", "-j", "list", "counter", "inet", "pycni_count", key, ns=gw).stdout)
            counts.append(next(i["counter"]["packets"] for i in data["nftables"] if "counter" in i))
        out[key] = counts
    return out


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft is needed to count packets at the gateways")
def test_real_flows_split_over_both_gateways_pycni_vs_reference(netns_factory, iproute2, pycni_dir, capsys):
    ours = split_through(pycni_dir, "1.0.0", netns_factory, iproute2)
    ref = None
    if os.path.exists(f"{REF}/ptp"):
        ref = split_through(REF, "1.0.0", netns_factory, iproute2)
    with capsys.disabled():
        for key, label in (("v4", "IPv4"), ("v6", "IPv6")):
            line = f"\n{label} ptp+static  pycni: gw1 {ours[key][0]}/{FLOWS} gw2 {ours[key][1]}/{FLOWS}"
            if ref:
                line += f" | reference 1.1.1: gw1 {ref[key][0]}/{FLOWS} gw2 {ref[key][1]}/{FLOWS}"
            print(line, end="")
        print()
    for key in ("v4", "v6"):
        assert sum(ours[key]) >= FLOWS * 0.9, ours
        assert min(ours[key]) >= 0.35 * sum(ours[key]), ours
