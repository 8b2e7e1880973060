"""dummy on the fake kernel (this machine's kernel has no CONFIG_DUMMY): the exact RTM_NEWLINK sent inside the
container, mandatory IPAM, rollback, CHECK (up state, no route check) and DEL (upstream HEAD)."""

from __future__ import annotations

import pytest
from fakekernel import FakeKernel, err_msg, ok, run_plugin

from pycni.linux import linkinfo
from pycni.netlink import codec as c
from pycni.plugins.main import dummy

P = dummy.PLUGIN
L3 = {"type": "static"}


def conf(**kw: object) -> dict:
    base: dict = {"cniVersion": "1.0.0", "name": "dnet", "type": "dummy", "ipam": L3, "dad": "skip"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def k(kernel: FakeKernel) -> FakeKernel:
    return kernel.with_container()


def test_add_creates_dummy_inside_container_with_final_name(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf(), ifname="dm0"))
    [(ns, mtype, flags, payload)] = k.sent(c.RTM_NEWLINK)[:1]
    assert (ns, flags) == ("/cont", c.NLM_F_CREATE | c.NLM_F_EXCL)
    assert payload == linkinfo.dummy_payload("dm0")
    assert c.parse_attrs(payload, c.IFINFOMSG_LEN) == [
        (c.IFLA_IFNAME, b"dm0\0"), (c.IFLA_LINKINFO, c.pack_attr(c.IFLA_INFO_KIND, b"dummy"))]
    dm0 = k.link("/cont", "dm0")
    assert res == {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "dm0", "mac": dm0.address, "sandbox": "/cont"}],
        "ips": [{"interface": 0, "address": "192.0.2.100/24", "gateway": "192.0.2.1"}],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "198.51.100.0/24", "gw": "192.0.2.254"}],
        "dns": {"nameservers": ["192.0.2.53"]},  # dummy keeps the IPAM plugin's DNS
    }


def test_ipam_is_mandatory(k: FakeKernel) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(ipam=None))) == "dummy interface requires an IPAM configuration"
    assert err_msg(run_plugin(P, "CHECK", conf(ipam=None))) == "dummy interface requires an IPAM configuration"
    assert k.sent() == []


def test_decode_error_prefix(k: FakeKernel) -> None:
    assert err_msg(run_plugin(P, "ADD", conf(ipam="x"))) == \
        "failed to parse network config: json: cannot unmarshal string into Go struct field NetConf.ipam of type types.IPAM"


def test_kernel_without_dummy(k: FakeKernel) -> None:
    k.unsupported.add("dummy")
    assert err_msg(run_plugin(P, "ADD", conf())) == "failed to create dummy: operation not supported"
    assert k.ipam_calls == []


def test_existing_name(k: FakeKernel) -> None:
    k.add_link("/cont", "eth0")
    assert err_msg(run_plugin(P, "ADD", conf())) == "failed to create dummy: file exists"
    assert k.names("/cont") == ["eth0", "lo"]


def test_missing_ips_releases_and_deletes(k: FakeKernel) -> None:
    k.ipam_result = {"cniVersion": "1.1.0"}
    assert err_msg(run_plugin(P, "ADD", conf())) == "IPAM plugin returned missing IP config"
    assert k.names("/cont") == ["lo"] and k.ipam_calls == ["ADD static", "DEL static"]


def test_check_requires_up_and_skips_routes(k: FakeKernel) -> None:
    res = ok(run_plugin(P, "ADD", conf()))
    cfg = conf(prevResult=res)
    k.ns["/cont"].routes.clear()  # upstream's dummy CHECK validates addresses only
    ok(run_plugin(P, "CHECK", cfg))
    k.link("/cont", "eth0").flags = 0
    assert err_msg(run_plugin(P, "CHECK", cfg)) == "Interface eth0 is down"
    k.link("/cont", "eth0").kind = "veth"
    assert err_msg(run_plugin(P, "CHECK", cfg)) == "Error: Container interface eth0 not of type dummy"
    assert err_msg(run_plugin(P, "CHECK", conf())) == "dummy: Required prevResult missing"


def test_del(k: FakeKernel) -> None:
    ok(run_plugin(P, "ADD", conf()))
    ok(run_plugin(P, "DEL", conf()))
    assert k.names("/cont") == ["lo"]
    ok(run_plugin(P, "DEL", conf()))
    ok(run_plugin(P, "DEL", conf(), netns="/gone"))
    ok(run_plugin(P, "DEL", conf(), netns=""))
    assert k.ipam_calls == ["ADD static"] + ["DEL static"] * 4
    assert err_msg(run_plugin(P, "DEL", conf(ipam=None))) == "no plugin name provided"


def test_status_and_gc(k: FakeKernel) -> None:
    ok(run_plugin(P, "STATUS", conf(cniVersion="1.1.0")))
    ok(run_plugin(P, "GC", conf(cniVersion="1.1.0")))
    assert k.ipam_calls == ["STATUS static", "GC static"]
