"""bridge features the Debian 1.1.1 reference lacks (HEAD-only keys, STATUS/GC, cniVersion 1.1.0), and
end-to-end connectivity: two containers on one bridge reach each other and the gateway.

Kernel state is checked against what upstream HEAD's code does (plugins/main/bridge/bridge.go), since there is
no reference binary to compare with for these keys.
"""

from __future__ import annotations

import json
import os

import pytest

from harness_bridge import BR, NET, World, bridge_conf, host_leftovers, nft_state, ping, static, sysctl
from harness_common import CID, REF_DIR, NetnsFactory, ipj, need_tools, sh, with_prev


@pytest.fixture
def world(netns_factory: NetnsFactory, pycni_dir: str) -> World:
    need_tools("nft")
    return World(netns_factory, "p", pycni_dir)


def _port(world: World, name: str) -> dict:
    return ipj(world.host, "-d", "link", "show", name)[0]["linkinfo"]["info_slave_data"]


def _vlan_filtering_supported() -> bool:
    name = "pycni-t-" + os.urandom(3).hex() + "-probe"
    sh("ip", "netns", "add", name)
    try:
        return sh("ip", "-n", name, "link", "add", "b0", "type", "bridge", "vlan_filtering", "1",
                  check=False).returncode == 0
    finally:
        sh("ip", "netns", "del", name, check=False)


NO_VLAN_REASON = ("this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING / 802.1Q not built): "
                  "vlan/vlanTrunk/preserveDefaultVlan need it; their netlink payloads are unit-tested")


# --- connectivity -----------------------------------------------------------------------------------------------


def _ipam_host_local(tmp_path) -> dict:
    # pycni's host-local if it is installed, else the reference binary found further down CNI_PATH
    return {"type": "host-local", "dataDir": str(tmp_path / "ipam"),
            "ranges": [[{"subnet": "10.88.60.0/24"}], [{"subnet": "fd00:88:60::/64"}]]}


def _is_ip(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def test_two_containers_reach_each_other_and_the_gateway(netns_factory: NetnsFactory, pycni_dir: str,
                                                         tmp_path) -> None:
    w = World(netns_factory, "p", f"{pycni_dir}:{REF_DIR}")
    conf = bridge_conf("1.0.0", isDefaultGateway=True, dad="skip", ipam=_ipam_host_local(tmp_path))
    results = {}
    for key, cid in (("c1", "cid-a"), ("c2", "cid-b")):
        w.container(key)
        out = w.run("ADD", conf, cont=key, cid=cid, plugin=f"{pycni_dir}/bridge")
        assert out.ok, out
        results[key] = out.json
    ip_of = {k: [i["address"].split("/")[0] for i in r["ips"]] for k, r in results.items()}
    assert sorted(f for f in os.listdir(tmp_path / "ipam" / NET) if _is_ip(f)) == sorted(
        ip_of["c1"] + ip_of["c2"]), "host-local keeps one file per lease"
    assert ip_of["c1"] != ip_of["c2"]
    assert {i["gateway"] for r in results.values() for i in r["ips"]} == {"10.88.60.1", "fd00:88:60::1"}
    for src, dst in (("c1", "c2"), ("c2", "c1")):
        for addr in ip_of[dst]:
            assert ping(w.container(src), addr), f"{src} cannot reach {dst} at {addr}"
    for key in ("c1", "c2"):
        for gw in ("10.88.60.1", "fd00:88:60::1"):
            assert ping(w.container(key), gw), f"{key} cannot reach gateway {gw}"
    for key, cid in (("c1", "cid-a"), ("c2", "cid-b")):
        out = w.run("CHECK", with_prev(conf, results[key]), cont=key, cid=cid, plugin=f"{pycni_dir}/bridge")
        assert out.ok, out
        for _ in range(2):
            out = w.run("DEL", with_prev(conf, results[key]), cont=key, cid=cid, plugin=f"{pycni_dir}/bridge")
            assert out.ok, out
    leases = [f for f in os.listdir(tmp_path / "ipam" / NET) if _is_ip(f)]  # host-local: one file per lease
    assert leases == [], "IPAM allocations left after DEL"
    assert host_leftovers(w) == {"links": [], "iptables": [], "nft": []}


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_del_with_netns_gone_releases_lease_masquerade_and_spoofcheck(netns_factory: NetnsFactory, pycni_dir: str,
                                                                      tmp_path, backend: str) -> None:
    w = World(netns_factory, "p", f"{pycni_dir}:{REF_DIR}")
    conf = bridge_conf("1.0.0", isGateway=True, ipMasq=True, ipMasqBackend=backend, macspoofchk=True, dad="skip",
                       ipam=_ipam_host_local(tmp_path))
    name = w.container()
    out = w.run("ADD", conf, plugin=f"{pycni_dir}/bridge")
    assert out.ok, out
    res = out.json
    left = host_leftovers(w)
    assert left["nft"] and (left["iptables"] if backend == "iptables" else True)
    assert [f for f in os.listdir(tmp_path / "ipam" / NET) if _is_ip(f)]
    sh("ip", "netns", "del", name)
    netns_factory.names.remove(name)
    for _ in range(2):
        out = w.run("DEL", with_prev(conf, res), plugin=f"{pycni_dir}/bridge")
        assert out.ok, out
    assert [f for f in os.listdir(tmp_path / "ipam" / NET) if _is_ip(f)] == []
    left = host_leftovers(w)
    assert left["iptables"] == [] and left["links"] == []
    assert {it["rule"]["chain"] for it in left["nft"] if "rule" in it} <= {"postrouting"}  # shared masq jumps
    assert not [it for it in nft_state(w.host) if "rule" in it and it["rule"]["chain"] == "masq_checks"]


def test_port_isolation(world: World) -> None:
    conf = bridge_conf("1.0.0", isGateway=True, portIsolation=True, dad="skip")
    res = {}
    for key, cid, addr in (("c1", "iso-a", "10.88.61.2/24"), ("c2", "iso-b", "10.88.61.3/24")):
        world.container(key)
        res[key] = world.add(dict(conf, ipam=static(addr)), cont=key, cid=cid)
        assert _port(world, res[key]["interfaces"][1]["name"])["isolated"] is True
    # isolated ports cannot talk to each other, but both still reach the (non-isolated) bridge itself
    assert not ping(world.container("c1"), "10.88.61.3")
    assert ping(world.container("c1"), "10.88.61.1") and ping(world.container("c2"), "10.88.61.1")


def test_port_flags_default_off_and_hairpin(world: World) -> None:
    world.container()
    res = world.add(bridge_conf("1.0.0", hairpinMode=True))
    port = _port(world, res["interfaces"][1]["name"])
    assert port["hairpin"] is True and port["isolated"] is False and port["learning"] is True


def test_disable_container_interface(world: World) -> None:
    world.container()
    res = world.add(bridge_conf("1.0.0", disableContainerInterface=True))
    assert [i["name"] for i in res["interfaces"]] == [BR, res["interfaces"][1]["name"], "eth0"]
    eth0 = ipj(world.container(), "link", "show", "eth0")[0]
    assert "UP" not in eth0["flags"]
    out = world.run("ADD", bridge_conf("1.0.0", disableContainerInterface=True, ipam=static("10.88.62.2/24")),
                    cont="c2", cid="other")
    assert out.json == {"code": 999, "msg": "cannot use IPAM when DisableContainerInterface flag is set"}
    assert [lk["ifname"] for lk in ipj(world.container("c2"), "link", "show")] == ["lo"]


def test_cni_110_result_status_and_gc(world: World) -> None:
    conf = bridge_conf("1.1.0", isDefaultGateway=True, ipMasq=True, ipMasqBackend="nftables", dad="skip",
                       ipam=static("10.88.63.2/24", "fd00:88:63::2/64"))
    world.container()
    world.container("c2")
    res = world.add(conf)
    res2 = world.add(dict(conf, ipam=static("10.88.63.3/24")), cont="c2", cid="cid2")
    assert res["cniVersion"] == "1.1.0" and "dns" not in res
    assert [r["dst"] for r in res["routes"]] == ["0.0.0.0/0", "::/0"]
    assert world.run("STATUS", conf).ok
    assert world.run("STATUS", bridge_conf("1.1.0")).ok  # no IPAM: nothing to ask

    def masq_rules() -> list[str]:
        return [it["rule"]["comment"] for it in nft_state(world.host)
                if "rule" in it and it["rule"]["table"] == "cni_plugins_masquerade" and "comment" in it["rule"]]

    assert len(masq_rules()) == 3  # two IPs of cid1, one of cid2
    gc = dict(conf, **{"cni.dev/valid-attachments": [{"containerID": "cid2", "ifname": "eth0"}]})
    out = world.run("GC", gc)
    assert out.ok, out
    left = masq_rules()
    assert len(left) == 1 and "id: cid2" in left[0]
    out = world.run("DEL", with_prev(conf, res2), cont="c2", cid="cid2")
    assert out.ok, out
    assert masq_rules() == []


def test_ipmasq_nftables_rules_and_del(world: World) -> None:
    from pycni.linux.ipmasq import nft_comment

    conf = bridge_conf("1.0.0", isGateway=True, ipMasq=True, ipMasqBackend="nftables", dad="skip",
                       ipam=static("10.88.64.2/24", "fd00:88:64::2/64"))
    world.container()
    res = world.add(conf)
    rules = [it["rule"] for it in nft_state(world.host) if "rule" in it and it["rule"]["chain"] == "masq_checks"]
    assert [r["comment"] for r in rules] == [nft_comment(NET, "eth0", CID)] * 2
    assert host_leftovers(world)["iptables"] == []
    out = world.run("DEL", with_prev(conf, res))
    assert out.ok, out
    left = host_leftovers(world)
    assert left["links"] == [] and left["iptables"] == []
    # the shared table and its postrouting jump stay (as upstream); no per-container rule does
    assert {it["rule"]["chain"] for it in left["nft"]} <= {"postrouting"}


def test_unknown_masq_backend_rolls_back(world: World) -> None:
    conf = bridge_conf("1.0.0", ipMasq=True, ipMasqBackend="ebtables", ipam=static("10.88.65.2/24"))
    world.container()
    out = world.run("ADD", conf)
    assert out.json == {"code": 999, "msg": 'unknown ipmasq backend "ebtables"'}
    assert [lk["ifname"] for lk in ipj(world.container(), "link", "show")] == ["lo"]
    assert host_leftovers(world)["links"] == []


def test_ipv6_gateway_on_bridge_and_forwarding(world: World) -> None:
    world.container()
    res = world.add(bridge_conf("1.0.0", isGateway=True, ipam=static("fd00:88:66::2/64")))  # DAD waits as upstream
    assert res["ips"] == [{"interface": 2, "address": "fd00:88:66::2/64", "gateway": "fd00:88:66::1"}]
    br_addrs = {(a["local"], a["prefixlen"]) for a in ipj(world.host, "addr", "show", BR)[0]["addr_info"]}
    assert ("fd00:88:66::1", 64) in br_addrs
    assert sysctl(world.host, "net/ipv6/conf/all/forwarding") == "1"
    assert sysctl(world.container(), "net/ipv6/conf/eth0/accept_dad") == "0"
    assert ping(world.container(), "fd00:88:66::1")


def test_gc_without_attachment_list_and_without_ipam(world: World) -> None:
    assert world.run("GC", bridge_conf("1.1.0")).ok
    assert world.run("GC", bridge_conf("1.1.0", ipam=static("10.88.67.2/24"))).ok


# --- VLAN (needs bridge VLAN filtering in the kernel) ----------------------------------------------------------


@pytest.fixture
def vlan_kernel() -> None:
    if not _vlan_filtering_supported():
        pytest.skip(NO_VLAN_REASON)


def _vlans(world: World, port: str) -> list[tuple[int, tuple[str, ...]]]:
    out = json.loads(sh("ip", "netns", "exec", world.host, "bridge", "-j", "vlan", "show", "dev", port).stdout or "[]")
    return [(v["vlan"], tuple(sorted(v.get("flags", [])))) for e in out for v in e.get("vlans", [])]


def test_vlan_access_port(world: World, vlan_kernel: None) -> None:
    world.container()
    res = world.add(bridge_conf("1.1.0", vlan=10, isGateway=True, dad="skip", ipam=static("10.88.70.2/24")))
    port = res["interfaces"][1]["name"]
    assert _vlans(world, port) == [(10, ("Egress Untagged", "PVID"))]
    assert res["interfaces"][3]["name"] == f"{BR}.10"
    addrs = {a["local"] for a in ipj(world.host, "addr", "show", f"{BR}.10")[0]["addr_info"]}
    assert "10.88.70.1" in addrs


def test_vlan_trunk_and_preserve_default(world: World, vlan_kernel: None) -> None:
    world.container()
    res = world.add(bridge_conf("1.1.0", vlanTrunk=[{"minID": 100, "maxID": 102}, {"id": 200}]))
    assert _vlans(world, res["interfaces"][1]["name"]) == [
        (1, ("Egress Untagged", "PVID")), (100, ()), (101, ()), (102, ()), (200, ())]
    world.container("c2")
    res = world.add(bridge_conf("1.1.0", vlan=20, preserveDefaultVlan=True), cont="c2", cid="cid2")
    vids = _vlans(world, res["interfaces"][1]["name"])
    assert (20, ("Egress Untagged", "PVID")) in vids and 1 in [v for v, _ in vids]


# On this kernel the VLAN netlink calls themselves fail (EOPNOTSUPP), so the rest of the VLAN code path (the
# `<bridge>.<vlan>` gateway veth of isGateway + vlan, the port wiring, the result's 4th interface) is run for real
# in-process with only the two VLAN verbs replaced by recorders.
STUBBED_VLAN_ADD = r"""
import json, os, sys
from pycni.linux import bridge as lb
calls = []
lb.vlan_add = lambda link, vid, **kw: calls.append(["add", link.name, vid, kw.get("pvid", False),
                                                     kw.get("untagged", False), kw.get("master", False)])
lb.remove_default_vlan = lambda link, nl=None: calls.append(["rmdefault", link.name])
from pycni import skel
from pycni.plugins.main import bridge
out = skel.run(bridge.PLUGIN, os.environ, sys.stdin.buffer.read())
print(json.dumps({"stdout": out.stdout(), "calls": calls}))
"""


def test_vlan_gateway_interface_with_vlan_verbs_stubbed(world: World, pycni_dir: str) -> None:
    import sys

    sh("ip", "-n", world.host, "link", "add", BR, "type", "bridge")  # exists: no vlan_filtering requested
    world.container()
    conf = bridge_conf("1.0.0", vlan=10, isGateway=True, dad="skip",
                       ipam=static("10.88.71.2/24", "fd00:88:71::2/64"))
    env = ["CNI_COMMAND=ADD", f"CNI_CONTAINERID={CID}", f"CNI_NETNS={world.path()}", "CNI_IFNAME=eth0",
           f"CNI_PATH={pycni_dir}", f"PATH={os.environ.get('PATH', '/usr/sbin:/usr/bin')}"]
    p = sh("ip", "netns", "exec", world.host, "env", "-i", *env, sys.executable, "-c", STUBBED_VLAN_ADD,
           input=json.dumps(conf))
    out = json.loads(p.stdout)
    res = json.loads(out["stdout"])
    assert [i["name"] for i in res["interfaces"]][::2] == [BR, "eth0"] and res["interfaces"][3]["name"] == f"{BR}.10"
    port, gw_if = res["interfaces"][1]["name"], f"{BR}.10"
    gw_link = ipj(world.host, "-d", "link", "show", gw_if)[0]
    assert gw_link["linkinfo"]["info_kind"] == "veth" and "UP" in gw_link["flags"]
    assert gw_link["address"] == res["interfaces"][3]["mac"]
    peer = [lk for lk in ipj(world.host, "link", "show") if lk.get("master") == BR and lk["ifname"] != port]
    assert len(peer) == 1 and peer[0]["ifname"].startswith("veth")
    assert out["calls"] == [["rmdefault", port], ["add", port, 10, True, True, True],
                            ["rmdefault", peer[0]["ifname"]], ["add", peer[0]["ifname"], 10, True, True, True]]
    gw_addrs = {(a["local"], a["prefixlen"]) for a in ipj(world.host, "addr", "show", gw_if)[0]["addr_info"]}
    assert {("10.88.71.1", 24), ("fd00:88:71::1", 64)} <= gw_addrs
    assert [a for a in ipj(world.host, "addr", "show", BR)[0]["addr_info"] if a.get("scope") == "global"] == []
    assert ping(world.container(), "10.88.71.1") and ping(world.container(), "fd00:88:71::1")
