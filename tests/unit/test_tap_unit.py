"""tap on the fake kernel: the two creation paths' tun flags, MTU/MAC/bridge/up messages, the selinuxContext path
through a stand-in `ip`, rollback, CHECK and DEL (upstream HEAD plugins/main/tap)."""

from __future__ import annotations

import os
import stat
import sys

import pytest
from fakekernel import FakeKernel, err_msg, ok, run_plugin

from pycni.linux import linkinfo, tuntap
from pycni.netlink import codec as c
from pycni.plugins.main import tap
from pycni.plugins.main.tap import plugin as tap_plugin

P = tap.PLUGIN
L3 = {"type": "static"}


def conf(**kw: object) -> dict:
    base: dict = {"cniVersion": "1.1.0", "name": "tapnet", "type": "tap", "dad": "skip"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def k(kernel: FakeKernel) -> FakeKernel:
    return kernel.with_container()


def tun_flags(k: FakeKernel, name: str = "tap0") -> int:
    return int.from_bytes(k.link("/cont", name).data[0x100], sys.byteorder)


@pytest.mark.parametrize("cfg,flags", [
    ({}, tuntap.IFF_TAP | tuntap.IFF_NO_PI),
    ({"multiQueue": True}, tuntap.IFF_TAP | tuntap.IFF_NO_PI | tuntap.IFF_MULTI_QUEUE),
    ({"owner": 1000}, tuntap.IFF_TAP | tuntap.IFF_NO_PI),
    ({"owner": 1000, "group": 100}, tuntap.IFF_TAP | tuntap.IFF_VNET_HDR),
    ({"owner": 0, "group": 0, "multiQueue": True},
     tuntap.IFF_TAP | tuntap.IFF_VNET_HDR | tuntap.IFF_MULTI_QUEUE | tuntap.IFF_NO_PI),
])
def test_creation_path_flags(k: FakeKernel, cfg: dict, flags: int) -> None:
    ok(run_plugin(P, "ADD", conf(**cfg), ifname="tap0"))
    assert tun_flags(k) == flags
    data = k.link("/cont", "tap0").data
    assert (linkinfo.IFLA_TUN_OWNER in data) == ("owner" in cfg)
    assert (linkinfo.IFLA_TUN_GROUP in data) == ("group" in cfg)


def test_l2_add_sets_mtu_mac_then_renames_enslaves_and_ups(k: FakeKernel) -> None:
    br = k.add_link("/cont", "br0", "bridge")
    res = ok(run_plugin(P, "ADD", conf(mtu=1300, mac="0a:00:00:00:00:01", bridge="br0"), ifname="tap0"))
    t = k.link("/cont", "tap0")
    assert (t.mtu, t.address, t.master, bool(t.flags & c.IFF_UP)) == (1300, "0a:00:00:00:00:01", br.index, True)
    assert res == {"cniVersion": "1.1.0",
                   "interfaces": [{"name": "tap0", "mac": "0a:00:00:00:00:01", "sandbox": "/cont"}]}
    assert [v for ns, v in k.log()] == ["NEWLINK(mtu,mac)", "NEWLINK(name=tap0)", "NEWLINK(master)", "NEWLINK(up)",
                                        "NEWLINK(up)"]
    assert all(ns == "/cont" for ns, _ in k.log())
    [mtu_mac] = [p for _ns, _t, _f, p in k.sent()[:1]]
    assert c.parse_attrs(mtu_mac, c.IFINFOMSG_LEN) == [(c.IFLA_MTU, (1300).to_bytes(4, sys.byteorder)),
                                                       (c.IFLA_ADDRESS, bytes.fromhex("0a0000000001"))]


def test_l3_add(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(ipam=L3, dns={"nameservers": ["9.9.9.9"]})))
    assert res["ips"] == [{"interface": 0, "address": "192.0.2.100/24", "gateway": "192.0.2.1"}]
    assert res["dns"] == {"nameservers": ["9.9.9.9"]}
    assert k.ns["/cont"].sysctls == {"net/ipv4/conf/eth0/arp_notify": "1"}  # no ndisc_notify for tap


def test_mac_from_cni_args_and_runtime_config(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(runtimeConfig={"mac": "0a:00:00:00:00:03"}), cni_args="MAC=0a:00:00:00:00:02"))
    assert res["interfaces"][0]["mac"] == "0a:00:00:00:00:03"
    res = ok(run_plugin(P, "ADD", conf(), cni_args="MAC=0a:00:00:00:00:02", ifname="eth1"))
    assert res["interfaces"][0]["mac"] == "0a:00:00:00:00:02"
    assert err_msg(run_plugin(P, "DEL", conf(), cni_args="FOO=1")) == 'ARGS: unknown args ["FOO=1"]'


@pytest.mark.parametrize("cfg,msg", [
    ({"mac": "zz"}, "invalid args zz for MAC addr: address zz: invalid MAC address"),
    ({"owner": -1}, "failed to load netconf: json: cannot unmarshal number -1 into Go struct field NetConf.owner of type uint32"),
    ({"group": "x"}, "failed to load netconf: json: cannot unmarshal string into Go struct field NetConf.group of type uint32"),
    ({"args": "x"}, "failed to load netconf: json: cannot unmarshal string into Go struct field NetConf.args of type struct {}"),
    ({"bridge": "nobr"}, "failed to get bridge nobr: Link not found"),
])
def test_errors(k: FakeKernel, cfg: dict, msg: str) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(**cfg))) == msg
    assert k.names("/cont") == ["lo"]


def test_enslave_failure_removes_tap(k: FakeKernel) -> None:
    k.add_link("/cont", "br0", "bridge")
    k.fail[(c.RTM_NEWLINK, "master")] = 22
    assert err_msg(run_plugin(P, "ADD", conf(bridge="br0"))) == \
        "failed to set tap eth0 as a port of bridge br0: invalid argument"
    assert k.names("/cont") == ["br0", "lo"]


def test_rename_clash_removes_temporary_tap(k: FakeKernel) -> None:
    k.add_link("/cont", "eth0")
    assert err_msg(run_plugin(P, "ADD", conf())) == 'failed to rename tap to "eth0": file exists'
    assert k.names("/cont") == ["eth0", "lo"]


def test_ipam_failure_removes_tap(k: FakeKernel) -> None:
    k.ipam_result = {"cniVersion": "1.1.0"}
    assert err_msg(run_plugin(P, "ADD", conf(ipam=L3))) == "IPAM plugin returned missing IP config"
    assert k.names("/cont") == ["lo"] and k.ipam_calls == ["ADD static", "DEL static"]


def test_selinux_context_path_uses_ip_tuntap_with_exec_label(k: FakeKernel, tmp_path, monkeypatch) -> None:
    """upstream: SetExecLabel(ctx), then `ip tuntap add mode tap name <tmp> [multi_queue] [user N] [group N]` and
    `ip link set <tmp> [mtu N] [address M]`; the stand-in `ip` records its argv and makes the device."""
    attr = tmp_path / "exec"
    attr.write_text("")
    log = tmp_path / "argv"
    fake_ip = tmp_path / "ip"
    fake_ip.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    fake_ip.chmod(fake_ip.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(tap_plugin, "EXEC_ATTR", str(attr))
    monkeypatch.setattr(tap_plugin, "IP_BINARY", str(fake_ip))
    real_run = tap_plugin._run_ip

    def run_ip(argv: list[str]) -> None:
        real_run(argv)
        if argv[:2] == ["tuntap", "add"]:
            k.add_link("/cont", argv[5], "tun")

    monkeypatch.setattr(tap_plugin, "_run_ip", run_ip)
    ok(run_plugin(P, "ADD", conf(selinuxContext="system_u:system_r:svirt_t:s0", multiQueue=True, owner=7, group=8,
                                 mtu=1400, mac="0a:00:00:00:00:05")))
    assert attr.read_text() == "system_u:system_r:svirt_t:s0"
    first, second = log.read_text().splitlines()
    tmp = first.split()[5]
    assert tmp.startswith("veth")
    assert first == f"tuntap add mode tap name {tmp} multi_queue user 7 group 8"
    assert second == f"link set {tmp} mtu 1400 address 0a:00:00:00:00:05"
    assert k.names("/cont") == ["eth0", "lo"]


def test_selinux_label_failure_text(k: FakeKernel, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tap_plugin, "EXEC_ATTR", str(tmp_path / "no" / "exec"))
    assert err_msg(run_plugin(P, "ADD", conf(selinuxContext="x"))) == \
        f"failed set socket label: open {tmp_path}/no/exec: no such file or directory"


def test_ip_failure_text_and_cleanup(k: FakeKernel, tmp_path, monkeypatch) -> None:
    attr = tmp_path / "exec"
    attr.write_text("")
    fake_ip = tmp_path / "ip"
    fake_ip.write_text("#!/bin/sh\necho 'ioctl(TUNSETIFF): Device or resource busy' >&2\nexit 1\n")
    fake_ip.chmod(0o755)
    monkeypatch.setattr(tap_plugin, "EXEC_ATTR", str(attr))
    monkeypatch.setattr(tap_plugin, "IP_BINARY", str(fake_ip))
    assert err_msg(run_plugin(P, "ADD", conf(selinuxContext="x"))) == \
        "failed to run command ioctl(TUNSETIFF): Device or resource busy\n: exit status 1"


def test_check_del_status_gc(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(ipam=L3)))
    cfg = conf(ipam=L3, prevResult=res)
    ok(run_plugin(P, "CHECK", cfg))
    assert err_msg(run_plugin(P, "CHECK", conf(ipam=L3))) == "Required prevResult missing"
    k.ns["/cont"].addrs.clear()
    assert err_msg(run_plugin(P, "CHECK", cfg)) == "Failed to match addr 192.0.2.100/24 on interface eth0"
    ok(run_plugin(P, "DEL", cfg))
    assert k.names("/cont") == ["lo"]
    ok(run_plugin(P, "DEL", cfg))
    ok(run_plugin(P, "DEL", cfg, netns="/gone"))
    ok(run_plugin(P, "STATUS", cfg))
    ok(run_plugin(P, "GC", cfg))
    assert k.ipam_calls == ["ADD static", "CHECK static", "CHECK static", "CHECK static", "DEL static",
                            "DEL static", "DEL static", "STATUS static", "GC static"]


def test_l2_check_without_ipam(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf()))
    ok(run_plugin(P, "CHECK", conf(prevResult=res)))
    assert k.ipam_calls == []


def test_native_create_error_text(k: FakeKernel, monkeypatch) -> None:
    def boom(*a: object, **kw: object) -> str:
        raise tuntap.TuntapError(1, "Tuntap IOCTL TUNSETIFF failed [0], errno operation not permitted")

    monkeypatch.setattr(tuntap, "create", boom)
    assert err_msg(run_plugin(P, "ADD", conf())) == \
        "failed to create tap: Tuntap IOCTL TUNSETIFF failed [0], errno operation not permitted"


def test_no_stray_fds(k: FakeKernel) -> None:
    before = len(os.listdir("/proc/self/fd"))
    ok(run_plugin(P, "ADD", conf()))
    assert len(os.listdir("/proc/self/fd")) == before
