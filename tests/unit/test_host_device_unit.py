"""host-device on the fake kernel and a fake sysfs: every selector (device, hwaddr, kernelpath, pciBusID incl. virtio,
runtimeConfig.deviceID for PCI and auxiliary devices, DPDK drivers), the move through a temporary netns step by
step, rollback when a step fails, and DEL moving the device back (upstream HEAD plugins/main/host-device)."""

from __future__ import annotations

import os

import pytest
from fakekernel import HOST, FakeKernel, err_msg, ok, run_plugin

from pycni.netlink import codec as c
from pycni.plugins.main import host_device as hd
from pycni.plugins.main.host_device import devices

P = hd.PLUGIN
L3 = {"type": "static"}


def conf(**kw: object) -> dict:
    base: dict = {"cniVersion": "1.0.0", "name": "hdnet", "type": "host-device", "dad": "skip"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def k(kernel: FakeKernel, tmp_path, monkeypatch) -> FakeKernel:
    dev = kernel.add_link(HOST, "hd0", mtu=1480, address="0a:00:00:00:00:aa")
    dev.flags = c.IFF_UP
    kernel.add_link(HOST, "other0", address="0a:00:00:00:00:bb")
    kernel.with_container()
    monkeypatch.setattr(devices, "SYS_BUS_PCI", str(tmp_path / "pci"))
    monkeypatch.setattr(devices, "SYS_BUS_AUXILIARY", str(tmp_path / "aux"))
    (tmp_path / "pci").mkdir()
    (tmp_path / "aux").mkdir()
    return kernel


def pci_device(tmp_path, addr: str, *, net: str | None = "hd0", virtio: bool = False, driver: str = "e1000e") -> None:
    d = tmp_path / "pci" / addr
    d.mkdir(parents=True)
    drv = tmp_path / "drivers" / driver
    drv.mkdir(parents=True, exist_ok=True)
    os.symlink(drv, d / "driver")
    if net is not None:
        nd = (d / "virtio3" / "net") if virtio else (d / "net")
        (nd / net).mkdir(parents=True)


def test_add_moves_device_through_temp_netns(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(device="hd0"), ifname="net1"))
    assert res == {"cniVersion": "1.0.0",
                   "interfaces": [{"name": "net1", "mac": "0a:00:00:00:00:aa", "sandbox": "/cont"}]}
    net1 = k.link("/cont", "net1")
    assert (net1.alias, net1.mtu, bool(net1.flags & c.IFF_UP)) == ("hd0", 1480, True)
    assert k.names(HOST) == ["lo", "other0"]
    assert k.log() == [
        (HOST, "NEWLINK(netns=/tmpns1)"),
        ("/tmpns1", "NEWLINK(name=net1)"),
        ("/tmpns1", "SETLINK(alias=hd0)"),
        ("/tmpns1", "NEWLINK(netns=/cont)"),
        ("/cont", "NEWLINK(up)"),
    ]


def test_add_with_ipam(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(device="hd0", ipam=L3, dns={"search": ["a"]}), ifname="net1"))
    assert res["ips"] == [{"interface": 0, "address": "192.0.2.100/24", "gateway": "192.0.2.1"}]
    assert res["dns"] == {"search": ["a"]}
    assert [a.cidr for a in k.ns["/cont"].addrs] == ["192.0.2.100/24"]


def test_del_moves_device_back_down_and_clears_alias(k: FakeKernel) -> None:
    ok(run_plugin(P, "ADD", conf(device="hd0", ipam=L3), ifname="net1"))
    k.requests.clear()
    ok(run_plugin(P, "DEL", conf(device="hd0", ipam=L3), ifname="net1"))
    back = k.link(HOST, "hd0")
    assert back is not None and back.alias == "" and not back.flags & c.IFF_UP
    assert k.names("/cont") == ["lo"]
    assert k.log() == [
        ("/cont", "NEWLINK(netns=/tmpns2)"),
        ("/tmpns2", "NEWLINK(name=hd0)"),
        ("/tmpns2", "SETLINK(alias=)"),
        ("/tmpns2", "NEWLINK(netns=/host)"),
    ]
    ok(run_plugin(P, "DEL", conf(device="hd0", ipam=L3), ifname="net1"))  # twice: nothing to move
    ok(run_plugin(P, "DEL", conf(device="hd0", ipam=L3), netns="/gone", ifname="net1"))
    ok(run_plugin(P, "DEL", conf(device="hd0", ipam=L3), netns="", ifname="net1"))
    assert k.ipam_calls == ["ADD static"] + ["DEL static"] * 4


def test_del_refuses_device_without_alias(k: FakeKernel) -> None:
    k.add_link("/cont", "net1")
    assert err_msg(run_plugin(P, "DEL", conf(device="hd0"), ifname="net1")) == \
        'failed to find original ifname for "net1" (alias is not set)'


def test_del_clash_on_host_returns_device_to_container(k: FakeKernel) -> None:
    ok(run_plugin(P, "ADD", conf(device="hd0"), ifname="net1"))
    k.add_link(HOST, "hd0")  # someone took the name meanwhile
    assert err_msg(run_plugin(P, "DEL", conf(device="hd0"), ifname="net1")) == \
        'failed to move "hd0" to hostNS: file exists'
    net1 = k.link("/cont", "net1")
    assert net1 is not None and net1.alias == "hd0" and net1.flags & c.IFF_UP


@pytest.mark.parametrize("fail,msg,alias", [
    ((c.RTM_NEWLINK, "name"), 'failed to rename host device "hd0" to "net1": device or resource busy', ""),
    ((c.RTM_SETLINK, "alias"), 'failed to set alias to "hd0": device or resource busy', ""),
    ((c.RTM_NEWLINK, "up"), 'failed to set "net1" up: device or resource busy', ""),
])
def test_add_failures_restore_host_device(k: FakeKernel, fail: tuple[int, str], msg: str, alias: str) -> None:
    k.fail[fail] = 16
    assert err_msg(run_plugin(P, "ADD", conf(device="hd0"), ifname="net1")) == f"failed to move link {msg}"
    back = k.link(HOST, "hd0")
    assert back is not None and back.alias == alias and back.flags & c.IFF_UP  # up again, as it was
    assert k.names("/cont") == ["lo"]


def test_add_name_clash_in_container_restores(k: FakeKernel) -> None:
    k.add_link("/cont", "net1")
    assert err_msg(run_plugin(P, "ADD", conf(device="hd0"), ifname="net1")) == \
        'failed to move link failed to move "net1" (host: "hd0") to container NS: file exists'
    assert k.link(HOST, "hd0").alias == "" and k.link(HOST, "hd0").flags & c.IFF_UP
    assert k.names("/cont") == ["lo", "net1"]


def test_ipam_failure_moves_device_back(k: FakeKernel) -> None:
    k.ipam_result = {"cniVersion": "1.1.0"}
    assert err_msg(run_plugin(P, "ADD", conf(device="hd0", ipam=L3), ifname="net1")) == \
        "IPAM plugin returned missing IP config"
    assert k.link(HOST, "hd0") is not None and k.names("/cont") == ["lo"]


# --- selectors -------------------------------------------------------------------------------------------------


def test_no_selector(k: FakeKernel) -> None:
    assert err_msg(run_plugin(P, "ADD", conf())) == 'specify either "device", "hwaddr", "kernelpath" or "pciBusID"'


def test_device_not_found(k: FakeKernel) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(device="nope"))) == "failed to find host device: Link not found"


def test_hwaddr_selector(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(hwaddr="0A-00-00-00-00-BB")))
    assert res["interfaces"][0]["mac"] == "0a:00:00:00:00:bb" and k.link("/cont", "eth0").alias == "other0"
    assert err_msg(run_plugin(P, "ADD", conf(hwaddr="0a:00:00:00:00:cc"), ifname="eth1")) == \
        "failed to find host device: failed to find physical interface"
    assert err_msg(run_plugin(P, "ADD", conf(hwaddr="zz"), ifname="eth1")) == \
        'failed to find host device: failed to parse MAC address "zz": address zz: invalid MAC address'


def test_kernelpath_selector(k: FakeKernel, tmp_path, monkeypatch) -> None:
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda p: ["other0", "hd0"] if p == "/sys/devices/virtual/x/net"
                        else real_listdir(p))
    ok(run_plugin(P, "ADD", conf(kernelpath="/sys/devices/virtual/x/")))
    assert k.link("/cont", "eth0").alias == "hd0"  # sorted: the first entry
    assert err_msg(run_plugin(P, "ADD", conf(kernelpath="/sys/class/net/hd0"))) == \
        'failed to find host device: kernel device path "/sys/class/net/hd0" must be absolute and begin with /sys/devices/'
    assert err_msg(run_plugin(P, "ADD", conf(kernelpath="/sys/devices/none"))) == \
        'failed to find host device: failed to read directory /sys/devices/none/net: ' \
        '"open /sys/devices/none/net: no such file or directory"'


def test_pci_selector_with_virtio_and_empty_net(k: FakeKernel, tmp_path) -> None:
    pci_device(tmp_path, "0000:00:03.0", virtio=True)
    ok(run_plugin(P, "ADD", conf(pciBusID="0000:00:03.0")))
    assert k.link("/cont", "eth0").alias == "hd0"
    pci_device(tmp_path, "0000:00:04.0", net=None)
    assert err_msg(run_plugin(P, "ADD", conf(pciBusID="0000:00:04.0"), ifname="eth1")) == \
        "failed to find host device: no net directory under pci device 0000:00:04.0"
    os.makedirs(tmp_path / "pci" / "0000:00:04.0" / "net")
    assert err_msg(run_plugin(P, "ADD", conf(pciBusID="0000:00:04.0"), ifname="eth1")) == \
        f"failed to find host device: failed to find network device in path {tmp_path}/pci/0000:00:04.0/net"


def test_pci_without_driver(k: FakeKernel, tmp_path) -> None:
    (tmp_path / "pci" / "0000:00:05.0").mkdir()
    msg = err_msg(run_plugin(P, "ADD", conf(pciBusID="0000:00:05.0")))
    assert msg == f"error with host device: lstat {tmp_path}/pci/0000:00:05.0/driver: no such file or directory"


@pytest.mark.parametrize("driver", ["vfio-pci", "uio_pci_generic", "igb_uio"])
def test_dpdk_mode_moves_nothing(k: FakeKernel, tmp_path, driver: str) -> None:
    pci_device(tmp_path, "0000:00:06.0", net=None, driver=driver)
    res = ok(run_plugin(P, "ADD", conf(pciBusID="0000:00:06.0")))
    assert res == {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/cont"}]}
    res = ok(run_plugin(P, "ADD", conf(pciBusID="0000:00:06.0", ipam=L3)))
    assert res["interfaces"] == [{"name": "eth0", "sandbox": "/cont"}] and k.ns["/cont"].addrs == []
    cfg = conf(pciBusID="0000:00:06.0", ipam=L3, prevResult=res)
    ok(run_plugin(P, "CHECK", cfg))
    ok(run_plugin(P, "DEL", cfg))
    assert k.sent() == []


def test_device_id_pci_and_aux(k: FakeKernel, tmp_path) -> None:
    pci_device(tmp_path, "0000:00:07.0")
    ok(run_plugin(P, "ADD", conf(runtimeConfig={"deviceID": "0000:00:07.0"})))
    assert k.link("/cont", "eth0").alias == "hd0"
    (tmp_path / "aux" / "mlx5_core.sf.4" / "net" / "other0").mkdir(parents=True)
    # `device` is the first selector getLink looks at, so it wins over the auxiliary device
    assert err_msg(run_plugin(P, "ADD", conf(device="ignored0", runtimeConfig={"deviceID": "mlx5_core.sf.4"}),
                              ifname="eth1")) == "failed to find host device: Link not found"
    assert err_msg(run_plugin(P, "ADD", conf(runtimeConfig={"deviceID": "nope"}), ifname="eth2")) == \
        "runtime config DeviceID nope not found or unsupported"


def test_aux_device_selector(k: FakeKernel, tmp_path) -> None:
    (tmp_path / "aux" / "mlx5_core.sf.4" / "net" / "other0").mkdir(parents=True)
    ok(run_plugin(P, "ADD", conf(runtimeConfig={"deviceID": "mlx5_core.sf.4"})))
    assert k.link("/cont", "eth0").alias == "other0"


def test_untagged_dpdkmode_key_is_honoured(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(device="hd0", dpdkmode=True)))
    assert res["interfaces"] == [{"name": "eth0", "sandbox": "/cont"}] and k.sent() == []


def test_check(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(device="hd0", ipam=L3), ifname="net1"))
    cfg = conf(device="hd0", ipam=L3, prevResult=res)
    ok(run_plugin(P, "CHECK", cfg, ifname="net1"))
    assert err_msg(run_plugin(P, "CHECK", conf(device="hd0"), ifname="net1")) == "Required prevResult missing"
    k.link("/cont", "net1").address = "0a:00:00:00:00:01"
    assert err_msg(run_plugin(P, "CHECK", cfg, ifname="net1")) == \
        "Interface net1 Mac 0a:00:00:00:00:aa doesn't match container Mac: 0a:00:00:00:00:01"
    assert err_msg(run_plugin(P, "CHECK", cfg, ifname="net2")) == \
        "Sandbox in prevResult  doesn't match configured netns: /cont"


def test_status_gc(k: FakeKernel) -> None:
    ok(run_plugin(P, "STATUS", conf(cniVersion="1.1.0", device="x", ipam=L3)))
    ok(run_plugin(P, "GC", conf(cniVersion="1.1.0", device="x", ipam=L3)))
    ok(run_plugin(P, "STATUS", conf(cniVersion="1.1.0")))  # upstream STATUS does not validate selectors
    assert k.ipam_calls == ["STATUS static", "GC static"]
