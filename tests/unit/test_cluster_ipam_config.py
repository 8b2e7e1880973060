"""cluster-ipam configuration: whereabouts' and host-local's range forms, etcd settings, code 7."""

from __future__ import annotations

import pytest

from pycni.plugins.ipam.cluster_ipam import config as C
from pycni.spec.errors import CNIError


def conf(**ipam: object) -> dict[str, object]:
    base: dict[str, object] = {"type": "cluster-ipam", "etcd_endpoints": ["http://127.0.0.1:2379"]}
    base.update(ipam)
    return {"cniVersion": "1.1.0", "name": "net1", "ipam": base}


def test_whereabouts_range_with_start_end_exclude() -> None:
    c = C.load(conf(range="10.0.0.0/24", range_start="10.0.0.10", range_end="10.0.0.20", exclude=["10.0.0.12/31", "10.0.0.15"]),
               {"NODENAME": "n1"})
    (r,), = c.sets
    assert (r.family, r.plen, r.start & 255, r.end & 255, r.gateway) == (4, 24, 10, 20, None)
    assert [(a & 255, b & 255) for a, b in r.excludes] == [(12, 13), (15, 15)]
    assert c.node == "n1" and c.network == "net1" and c.prefix == "/pycni/v1"


def test_whereabouts_dash_range_and_ipranges_dual_stack() -> None:
    c = C.load(conf(range="192.168.2.225-192.168.2.230/28", ipRanges=[{"range": "fd00::/64"}]), {})
    assert len(c.sets) == 2
    r4, r6 = c.sets[0][0], c.sets[1][0]
    assert (r4.start & 255, r4.end & 255, r4.plen) == (225, 230, 28)
    assert r6.family == 6 and r6.block_len == 122 and r6.start == r6.net + 1


def test_host_local_ranges_default_gateway_and_sets() -> None:
    c = C.load(conf(ranges=[[{"subnet": "10.1.0.0/16"}, {"subnet": "10.2.0.0/16", "gateway": "10.2.0.254"}],
                            [{"subnet": "fd01::/64"}]], block_size=28, block_size_v6="/120"), {})
    assert [len(s) for s in c.sets] == [2, 1]
    assert c.sets[0][0].gateway == c.sets[0][0].net + 1
    assert c.sets[0][1].gateway == c.sets[0][1].net + 254
    assert c.sets[0][0].block_len == 28 and c.sets[1][0].block_len == 120


def test_etcd_host_comma_separated_tls_and_node_name_order() -> None:
    c = C.load(conf(etcd_endpoints=None, etcd_host="10.0.0.1:2379, https://etcd2:2379", range="10.0.0.0/24",
                    etcd_ca_cert_file="/ca", etcd_cert_file="/c", etcd_key_file="/k", node_name="cfg"),
               {"NODENAME": "env"})
    assert [(e.host, e.port, e.https) for e in c.endpoints] == [("10.0.0.1", 2379, True), ("etcd2", 2379, True)]
    assert c.node == "cfg"
    assert C.load(conf(range="10.0.0.0/24"), {"NODENAME": "env"}).node == "env"
    assert C.load(conf(range="10.0.0.0/24"), {}).node  # the host name


@pytest.mark.parametrize("ipam", [
    {"range": "10.0.0.0/24", "etcd_endpoints": []},
    {"range": "nope"},
    {},
    {"range": "10.0.0.0/24", "range_start": "10.0.1.5"},
    {"range": "10.0.0.0/24", "range_start": "10.0.0.9", "range_end": "10.0.0.5"},
    {"range": "10.0.0.0/24", "block_size": 20},
    {"range": "10.0.0.0/24", "etcd_cert_file": "/c"},
    {"ranges": [[{"subnet": "10.0.0.0/24"}, {"subnet": "fd00::/64"}]]},
    {"range": "10.0.0.0/24", "strict_affinity": "yes"},
    {"range": "10.0.0.0/24", "etcd_endpoints": ["ftp://x:1"]},
    {"range": "10.0.0.0/24", "routes": [{"gw": "10.0.0.1"}]},
])
def test_bad_config_is_code_7(ipam: dict[str, object]) -> None:
    with pytest.raises(CNIError) as e:
        C.load(conf(**ipam), {})
    assert e.value.code == 7
