"""vrf: config, the VRF link messages, table choice, route selection, the errors before the namespace, and the
whole ADD/CHECK/DEL on the in-memory rtnetlink of fakekernel.py (no root).

This kernel has no CONFIG_NET_VRF, so the VRF device itself is only exercised here and in the skipped kernel tests.
"""

from __future__ import annotations

import json
import struct
import sys

import pytest
from fakekernel import FakeKernel
from fakekernel import run_plugin as _run

from pycni import skel
from pycni.netlink import codec as c
from pycni.plugins.meta import vrf as vrf_pkg
from pycni.plugins.meta.vrf import config as VC
from pycni.plugins.meta.vrf import device as VD
from pycni.plugins.meta.vrf import plugin as V

PREV = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/run/netns/c"}],
        "ips": [{"interface": 0, "address": "10.0.0.2/24"}]}
little_endian = pytest.mark.skipif(sys.byteorder != "little", reason="layouts below are written little-endian")


def conf(**kw: object) -> dict:
    d: dict = {"cniVersion": "1.0.0", "name": "net", "type": "vrf", "vrfname": "blue"}
    d.update(kw)
    return {k: v for k, v in d.items() if v is not None}


def call(cmd: str, c_: dict, netns: str = "/run/netns/none-pycni-test") -> skel.Outcome:
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": "cid1", "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
           "CNI_PATH": "/nonexistent"}
    return skel.run(vrf_pkg.PLUGIN, env, json.dumps(c_).encode())


def test_config() -> None:
    c_ = VC.parse_conf(conf(table=10, prevResult=PREV))
    assert (c_.vrfname, c_.table, c_.prev["ips"][0]["address"]) == ("blue", 10, "10.0.0.2/24")
    assert VC.parse_conf(conf()).table == 0


@pytest.mark.parametrize("extra, msg", [
    ({"vrfname": None}, "configuration is expected to have a valid vrf name"),
    ({"vrfname": ""}, "configuration is expected to have a valid vrf name"),
    ({"vrfname": 3}, "failed to load netconf: json: cannot unmarshal number into Go struct field VRFNetConf.vrfname "
                     "of type string"),
    ({"table": -1}, "failed to load netconf: json: cannot unmarshal number -1 into Go struct field VRFNetConf.table "
                    "of type uint32"),
    ({"table": 2**32}, "failed to load netconf: json: cannot unmarshal number 4294967296 into Go struct field "
                       "VRFNetConf.table of type uint32"),
    ({"table": "1"}, "failed to load netconf: json: cannot unmarshal string into Go struct field VRFNetConf.table "
                     "of type uint32"),
    ({"prevResult": {"cniVersion": "1.0.0", "ips": [{"address": "x"}]}},
     "could not parse prevResult: could not parse prevResult: invalid CIDR address: x"),
])
def test_config_errors(extra: dict, msg: str) -> None:
    with pytest.raises(ValueError) as ei:
        VC.parse_conf(conf(**extra))
    assert str(ei.value) == msg


@little_endian
def test_vrf_link_request() -> None:
    msg = VD.pack_vrf("blue", 10)
    lk = c.unpack_link(msg)
    assert (lk.name, lk.kind, lk.index) == ("blue", "vrf", 0)
    info = dict(c.parse_attrs(msg, c.IFINFOMSG_LEN))[c.IFLA_LINKINFO]
    data = dict(c.parse_attrs(info))[c.IFLA_INFO_DATA]
    assert c.parse_attrs(data) == [(VD.IFLA_VRF_TABLE, struct.pack("=I", 10))]


def test_unpack_vrf_link_reads_table_and_master() -> None:
    got = VD.unpack_vrf_link(VD.pack_vrf("blue", 77))
    assert (got.name, got.kind, got.table, got.master) == ("blue", "vrf", 77, 0)
    member = VD.unpack_vrf_link(c.pack_link(c.Link(index=4, name="eth0", master=9, kind="veth")))
    assert (member.kind, member.table, member.master) == ("veth", None, 9)


def test_free_table_is_the_lowest_unused_by_vrfs() -> None:
    vrfs = [VD.VrfLink(5, "a", "vrf", 1, 0), VD.VrfLink(6, "b", "vrf", 3, 0), VD.VrfLink(7, "c", "veth", None, 0)]
    assert VD.free_table(vrfs) == 2
    assert VD.free_table([]) == 1


def test_route_text_reads_like_go() -> None:
    r = c.Route(family=2, dst="10.1.0.0", dst_len=16, gateway="10.0.0.1", oif=3, table=10)
    assert V.route_text(r) == "{Ifindex: 3 Dst: 10.1.0.0/16 Src: <nil> Gw: 10.0.0.1 Flags: [] Table: 10 Realm: 0}"


def test_versions_start_at_031() -> None:
    assert vrf_pkg.PLUGIN.versions == ("0.3.1", "0.4.0", "1.0.0", "1.1.0")


def test_add_and_check_need_prev_result() -> None:
    assert call("ADD", conf()).error.msg == "missing prevResult from earlier plugin"
    assert call("CHECK", conf()).error.msg == "missing prevResult from earlier plugin"


def test_add_wraps_namespace_errors() -> None:
    out = call("ADD", conf(prevResult=PREV))
    assert out.error.msg == 'cmdAdd failed: failed to Statfs "/run/netns/none-pycni-test": no such file or directory'


def test_del_tolerates_a_missing_namespace() -> None:
    assert call("DEL", conf()).error is None


def test_routes_carried_into_the_vrf() -> None:
    def r(dst: str | None, plen: int, **kw: object) -> c.Route:
        return c.Route(family=2, dst=dst, dst_len=plen, oif=3, **kw)  # type: ignore[arg-type]

    default = r(None, 0, gateway="10.0.0.1")  # universe, boot: upstream's
    onlink_gw = r("10.0.0.1", 32, scope=c.RT_SCOPE_LINK)  # ptp's gateway route: pycni adds it
    connected = r("10.0.0.0", 24, scope=c.RT_SCOPE_LINK, protocol=c.RTPROT_KERNEL)  # the kernel re-creates it
    host = r("10.0.0.9", 32, scope=c.RT_SCOPE_HOST)
    foreign_mp = r("10.9.0.0", 16, multipath=[c.Nexthop("10.0.0.1", 3), c.Nexthop("10.1.0.1", 4)])
    own_mp = r("10.8.0.0", 16, multipath=[c.Nexthop("10.0.0.1", 3), c.Nexthop("10.0.0.254", 3)])
    got = V.select_routes([default, onlink_gw, connected, host, foreign_mp, own_mp], 3)
    assert got == [onlink_gw, default, own_mp]  # gateway-less first


# --- the whole plugin on the in-memory rtnetlink of fakekernel.py (no VRF needed) ---------------

CONT = "/cont"


def _container(k: FakeKernel) -> int:
    k.add_ns(CONT)
    eth0 = k.add_link(CONT, "eth0")
    k.ns[CONT].addrs.append(c.Addr(family=2, prefixlen=24, index=eth0.index, local="10.0.0.2", address="10.0.0.2"))
    k.ns[CONT].routes += [
        c.Route(family=2, dst="10.0.0.0", dst_len=24, oif=eth0.index, scope=c.RT_SCOPE_LINK,
                protocol=c.RTPROT_KERNEL, prefsrc="10.0.0.2"),
        c.Route(family=2, dst=None, dst_len=0, oif=eth0.index, gateway="10.0.0.1"),
        c.Route(family=2, dst="192.0.2.0", dst_len=24, oif=eth0.index, scope=c.RT_SCOPE_LINK),
    ]
    return eth0.index


def _vrf_table(k: FakeKernel, name: str = "blue") -> int | None:
    lk = k.link(CONT, name)
    return None if lk is None else struct.unpack("=I", lk.data[VD.IFLA_VRF_TABLE])[0]


def test_add_creates_the_vrf_enslaves_and_moves_routes(kernel: FakeKernel) -> None:  # noqa: F811
    idx = _container(kernel)
    kernel.add_link(CONT, "red", kind="vrf", data={VD.IFLA_VRF_TABLE: struct.pack("=I", 1)})
    res = _run(vrf_pkg.PLUGIN, "ADD", conf(prevResult=PREV), netns=CONT)
    assert res[1] is None, res[1] and res[1].msg
    assert res[0]["ips"] == PREV["ips"]
    vrf = kernel.link(CONT, "blue")
    assert vrf.kind == "vrf" and vrf.flags & c.IFF_UP
    assert _vrf_table(kernel) == 2  # table 1 belongs to "red"
    assert kernel.link(CONT, "eth0").master == vrf.index
    moved = [(r.dst_cidr, r.gateway) for r in kernel.ns[CONT].routes if r.table == 2 and r.oif == idx]
    # the link-scope IPAM route (pycni) first, then the universe default (upstream); the kernel's own stays behind
    assert moved == [("192.0.2.0/24", None), ("0.0.0.0/0", "10.0.0.1")]
    assert _run(vrf_pkg.PLUGIN, "CHECK", conf(prevResult=PREV), netns=CONT)[1] is None


def test_add_errors_on_the_fake_kernel(kernel: FakeKernel) -> None:  # noqa: F811
    _container(kernel)
    kernel.add_link(CONT, "blue", kind="veth")
    assert _run(vrf_pkg.PLUGIN, "ADD", conf(prevResult=PREV), netns=CONT)[1].msg == (
        "cmdAdd failed: Netlink blue is not a VRF")
    assert _run(vrf_pkg.PLUGIN, "ADD", conf(vrfname="green", table=7, prevResult=PREV), netns=CONT)[1] is None
    assert _vrf_table(kernel, "green") == 7
    assert _run(vrf_pkg.PLUGIN, "ADD", conf(vrfname="green", table=8, prevResult=PREV), netns=CONT)[1].msg == (
        "cmdAdd failed: VRF green already exist with different routing table 7")
    assert _run(vrf_pkg.PLUGIN, "ADD", conf(vrfname="green", prevResult=PREV), netns=CONT)[1].msg == (
        "cmdAdd failed: interface eth0 has already a master set: green")
    kernel.unsupported.add("vrf")
    assert _run(vrf_pkg.PLUGIN, "ADD", conf(vrfname="teal", prevResult=PREV), netns=CONT)[1].msg == (
        "cmdAdd failed: could not add VRF teal: operation not supported")


def test_del_releases_and_removes_the_last_member(kernel: FakeKernel) -> None:  # noqa: F811
    _container(kernel)
    net1 = kernel.add_link(CONT, "net1")
    assert _run(vrf_pkg.PLUGIN, "ADD", conf(prevResult=PREV), netns=CONT)[1] is None
    vrf = kernel.link(CONT, "blue")
    net1.master = vrf.index
    assert _run(vrf_pkg.PLUGIN, "DEL", conf(), netns=CONT)[1] is None
    assert kernel.link(CONT, "eth0").master == 0 and kernel.link(CONT, "blue") is not None
    assert _run(vrf_pkg.PLUGIN, "CHECK", conf(prevResult=PREV), netns=CONT)[1].msg == (
        "failed to find eth0 associated to vrf blue")
    # the last member is already gone (upstream fails here forever): the VRF goes anyway
    del kernel.ns[CONT].links[net1.index]
    assert _run(vrf_pkg.PLUGIN, "DEL", conf(), netns=CONT, ifname="net1")[1] is None
    assert kernel.link(CONT, "blue") is None
    assert _run(vrf_pkg.PLUGIN, "DEL", conf(), netns=CONT, ifname="net1")[1] is None
    assert _run(vrf_pkg.PLUGIN, "CHECK", conf(prevResult=PREV), netns=CONT)[1].msg == "Link not found"


def test_del_does_not_release_another_master(kernel: FakeKernel) -> None:  # noqa: F811
    _container(kernel)
    kernel.add_link(CONT, "blue", kind="vrf", data={VD.IFLA_VRF_TABLE: struct.pack("=I", 3)})
    br = kernel.add_link(CONT, "br0", kind="bridge")
    kernel.link(CONT, "eth0").master = br.index
    assert _run(vrf_pkg.PLUGIN, "DEL", conf(), netns=CONT)[1] is None
    assert kernel.link(CONT, "eth0").master == br.index
    assert kernel.link(CONT, "blue") is None  # no member left


def _drop_v6_on_enslave(kernel: FakeKernel, monkeypatch: pytest.MonkeyPatch, local_routes: bool) -> list:  # noqa: F811
    """Make the fake behave like a kernel without keep_addr_on_down: enslaving drops global IPv6 addresses;
    re-adding one creates its local route in the VRF table (when local_routes)."""
    readded: list = []
    original = kernel.handle

    def handle(path: str, mtype: int, payload: bytes, flags: int) -> None:
        original(path, mtype, payload, flags)
        ns = kernel.ns[path]
        if mtype == c.RTM_NEWLINK and c.IFLA_MASTER in dict(c.parse_attrs(payload, c.IFINFOMSG_LEN)):
            ns.addrs = [a for a in ns.addrs if a.family != 10]
        if mtype == c.RTM_NEWADDR:
            a = c.unpack_addr(payload)
            readded.append((a.ip, a.prefixlen, a.flags))
            vrf = kernel.link(CONT, "blue")
            if local_routes and vrf is not None:
                table = struct.unpack("=I", vrf.data[VD.IFLA_VRF_TABLE])[0]
                ns.routes.append(c.Route(family=10, dst=a.ip, dst_len=128, oif=a.index, table=table,
                                         type=c.RTN_LOCAL))

    monkeypatch.setattr(kernel, "handle", handle)
    monkeypatch.setattr(V, "RETRY_BASE", 0.0001)
    idx = _container(kernel)
    kernel.ns[CONT].addrs.append(c.Addr(family=10, prefixlen=64, index=idx, local="fd00::2", address="fd00::2",
                                        flags=c.IFA_F_NODAD | c.IFA_F_PERMANENT))
    return readded


def test_lost_ipv6_addresses_are_restored_and_awaited(kernel: FakeKernel,  # noqa: F811
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    readded = _drop_v6_on_enslave(kernel, monkeypatch, local_routes=True)
    assert _run(vrf_pkg.PLUGIN, "ADD", conf(prevResult=PREV), netns=CONT)[1] is None
    assert readded == [("fd00::2", 64, c.IFA_F_NODAD)]  # re-added with its NODAD flag, without PERMANENT


def test_an_address_that_never_settles_fails_the_add(kernel: FakeKernel,  # noqa: F811
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _drop_v6_on_enslave(kernel, monkeypatch, local_routes=False)
    assert _run(vrf_pkg.PLUGIN, "ADD", conf(prevResult=PREV), netns=CONT)[1].msg == (
        "cmdAdd failed: failed getting local/host addresses for eth0 in table 1 with dst fd00::2/64")
