"""pycni.ipam.configure.plan_routes: how result routes become kernel routes (no root, no kernel)."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycni.ipam.configure import plan_routes
from pycni.netlink import codec as c
from pycni.spec.errors import CNIError

IDX = 7


def plan(routes: list[dict], v4gw: str | None = "10.0.0.1", v6gw: str | None = "fd00::1") -> list:
    return plan_routes(IDX, routes, v4gw, v6gw, ifname="eth0")


def test_same_dst_different_gateways_become_one_multipath_route_per_family() -> None:
    p = plan([
        {"dst": "0.0.0.0/0", "gw": "10.0.0.1"},
        {"dst": "::/0", "gw": "fd00::1"},
        {"dst": "0.0.0.0/0", "gw": "10.0.0.254"},
        {"dst": "::/0", "gw": "fd00::fe"},
    ])
    assert [(x.family, x.dst_text, x.nexthops) for x in p] == [
        (socket.AF_INET, "0.0.0.0/0", [("10.0.0.1", 1), ("10.0.0.254", 1)]),
        (socket.AF_INET6, "::/0", [("fd00::1", 1), ("fd00::fe", 1)]),
    ]
    assert all(x.multipath for x in p)
    r = p[0].to_route()
    assert r.gateway is None and r.oif is None
    assert r.multipath == [c.Nexthop("10.0.0.1", IDX, 1), c.Nexthop("10.0.0.254", IDX, 1)]
    # pycni's own construct: exclusive create. A plain route keeps the reference's CREATE-only flags.
    assert p[0].add_flags == c.NLM_F_CREATE | c.NLM_F_EXCL
    single = plan([{"dst": "10.1.0.0/16", "gw": "10.0.0.5"}])[0]
    assert not single.multipath and single.add_flags == c.NLM_F_CREATE
    sr = single.to_route()
    assert (sr.gateway, sr.oif, sr.multipath) == ("10.0.0.5", IDX, [])


def test_weights_map_to_nexthop_weights() -> None:
    (p,) = plan([{"dst": "0.0.0.0/0", "gw": "10.0.0.1", "weight": 1},
                 {"dst": "0.0.0.0/0", "gw": "10.0.0.254", "weight": 3}])
    assert p.nexthops == [("10.0.0.1", 1), ("10.0.0.254", 3)]
    assert [nh.weight for nh in p.to_route().multipath] == [1, 3]


@pytest.mark.parametrize("w", [0, 257, -1, 1.5, "3", True])
def test_weight_out_of_range_is_an_error(w: object) -> None:
    with pytest.raises(CNIError) as ei:
        plan([{"dst": "0.0.0.0/0", "gw": "10.0.0.1", "weight": w}])
    assert ei.value.code == 999
    assert ei.value.msg.startswith("failed to add route '{0.0.0.0 00000000} via 10.0.0.1 dev eth0 metric 0 ")
    assert "invalid weight" in ei.value.msg


def test_weight_bounds_are_accepted() -> None:
    (p,) = plan([{"dst": "0.0.0.0/0", "gw": "10.0.0.1", "weight": 1},
                 {"dst": "0.0.0.0/0", "gw": "10.0.0.2", "weight": 256}])
    assert p.nexthops == [("10.0.0.1", 1), ("10.0.0.2", 256)]


@pytest.mark.parametrize("field", ["priority", "table", "scope"])
def test_different_priority_table_or_scope_stay_separate(field: str) -> None:
    p = plan([{"dst": "0.0.0.0/0", "gw": "10.0.0.1"}, {"dst": "0.0.0.0/0", "gw": "10.0.0.254", field: 200}])
    assert len(p) == 2 and not any(x.multipath for x in p)


def test_table_zero_is_main_and_ipv6_metric_zero_is_1024() -> None:
    assert len(plan([{"dst": "0.0.0.0/0", "gw": "10.0.0.1"},
                     {"dst": "0.0.0.0/0", "gw": "10.0.0.2", "table": 254}])) == 1
    assert len(plan([{"dst": "::/0", "gw": "fd00::1"}, {"dst": "::/0", "gw": "fd00::2", "priority": 1024}])) == 1
    # IPv4 has no such default: metric 1024 is a different route there.
    assert len(plan([{"dst": "0.0.0.0/0", "gw": "10.0.0.1"},
                     {"dst": "0.0.0.0/0", "gw": "10.0.0.2", "priority": 1024}])) == 2
    # IPv6 routes have no scope: a differing scope still groups.
    assert len(plan([{"dst": "::/0", "gw": "fd00::1"}, {"dst": "::/0", "gw": "fd00::2", "scope": 200}])) == 1


def test_destinations_compare_as_networks() -> None:
    (p,) = plan([{"dst": "fd00:1::/64", "gw": "fd00::1"}, {"dst": "fd00:1::5/64", "gw": "fd00::2"}])
    assert p.dst_text == "fd00:1::/64" and len(p.nexthops) == 2


def test_exact_duplicate_is_file_exists_in_reference_format() -> None:
    with pytest.raises(CNIError) as ei:
        plan([{"dst": "15.5.6.0/24", "gw": "1.2.3.5"}, {"dst": "15.5.6.0/24", "gw": "1.2.3.5"}])
    assert ei.value.code == 999
    assert ei.value.msg == ("failed to add route '{15.5.6.0 ffffff00} via 1.2.3.5 dev eth0 metric 0 "
                            "(Scope: universe, Table: 0)': file exists")


def test_duplicate_after_gateway_defaulting_and_in_a_group() -> None:
    with pytest.raises(CNIError, match="file exists"):
        plan([{"dst": "0.0.0.0/0"}, {"dst": "0.0.0.0/0", "gw": "10.0.0.1"}])
    with pytest.raises(CNIError) as ei:
        plan([{"dst": "::/0", "gw": "fd00::1"}, {"dst": "::/0", "gw": "fd00::2"},
              {"dst": "::/0", "gw": "fd00::0002", "priority": 0, "table": 254}])
    assert ei.value.msg == ("failed to add route '{:: 00000000000000000000000000000000} via fd00::2 dev eth0 metric 0 "
                            "(Scope: universe, Table: 254)': file exists")


def test_gateway_defaults_from_first_gateway_of_the_family() -> None:
    p = plan([{"dst": "15.5.6.0/24"}, {"dst": "1111:dddd::/80"}, {"dst": "1.2.3.4/32", "scope": 200}],
             v4gw="1.2.3.1", v6gw="abcd:1234:ffff::1")
    assert [(x.dst_text, x.gateways, x.scope) for x in p] == [
        ("15.5.6.0/24", ["1.2.3.1"], 0),
        ("1111:dddd::/80", ["abcd:1234:ffff::1"], 0),
        ("1.2.3.4/32", ["1.2.3.1"], 200),
    ]
    assert p[2].to_route().scope == 200


def test_upstream_fixture_routes_stay_four_plain_routes() -> None:
    p = plan([{"dst": "15.5.6.0/24", "gw": "1.2.3.5"}, {"dst": "1111:dddd::/80", "gw": "abcd:1234:ffff::10"},
              {"dst": "15.5.6.0/24", "gw": "1.2.3.5", "table": 5000}, {"dst": "1.2.3.4/32", "scope": 200}],
             v4gw="1.2.3.1", v6gw="abcd:1234:ffff::1")
    assert len(p) == 4 and not any(x.multipath for x in p)
    r = p[2].to_route()
    assert r.table == 5000 and p[2].describe("eth0").endswith("(Scope: universe, Table: 5000)")


def test_link_routes_are_never_grouped() -> None:
    p = plan([{"dst": "10.5.0.0/16", "gw": "10.0.0.1"}, {"dst": "10.5.0.0/16"},
              {"dst": "10.5.0.0/16", "gw": "10.0.0.2"}, {"dst": "10.6.0.0/16"}], v4gw=None)
    assert [(x.dst_text, x.gateways) for x in p] == [
        ("10.5.0.0/16", ["10.0.0.1", "10.0.0.2"]),
        ("10.5.0.0/16", [None]),
        ("10.6.0.0/16", [None]),
    ]
    assert p[0].add_flags == c.NLM_F_CREATE | c.NLM_F_EXCL
    lr = p[1].to_route()
    assert lr.gateway is None and lr.oif == IDX and lr.multipath == []
    with pytest.raises(CNIError, match="via <nil> dev eth0 .*file exists"):
        plan([{"dst": "10.6.0.0/16"}, {"dst": "10.6.0.0/16"}], v4gw=None)


def test_multipath_after_same_destination_route_is_not_exclusive() -> None:
    # EXCL would trip over the route planned just before it (the kernel ignores scope when matching).
    for first in ({"dst": "10.5.0.0/16"}, {"dst": "10.5.0.0/16", "gw": "10.0.0.9", "scope": 200}):
        p = plan([first, {"dst": "10.5.0.0/16", "gw": "10.0.0.1"}, {"dst": "10.5.0.0/16", "gw": "10.0.0.2"}], v4gw=None)
        assert len(p) == 2 and p[1].multipath and p[1].add_flags == c.NLM_F_CREATE


def test_metrics_and_priority_and_table_carry_over() -> None:
    (p,) = plan([{"dst": "0.0.0.0/0", "gw": "10.0.0.1", "mtu": 1400, "advmss": 1360, "priority": 10, "table": 100},
                 {"dst": "0.0.0.0/0", "gw": "10.0.0.2", "mtu": 1400, "advmss": 1360, "priority": 10, "table": 100}])
    r = p.to_route()
    assert (r.mtu, r.advmss, r.priority, r.table) == (1400, 1360, 10, 100)
    assert p.describe("eth0") == ("{0.0.0.0 00000000} via [10.0.0.1 10.0.0.2] dev eth0 metric 10 "
                                  "(Scope: universe, Table: 100)")


@pytest.mark.parametrize("a, b", [
    ({"mtu": 1400}, {}), ({}, {"mtu": 1400}), ({"mtu": 1400}, {"mtu": 1500}), ({"advmss": 1360}, {}),
    ({"mtu": 1400, "advmss": 1360}, {"mtu": 1400}), ({"mtu": 0}, {"advmss": 1}),
])
def test_multipath_routes_with_different_metrics_are_refused(a: dict, b: dict) -> None:
    # The kernel keeps one set of metrics per route: never apply one route's mtu/advmss to another's nexthop.
    routes = [dict({"dst": "0.0.0.0/0", "gw": "10.0.0.1"}, **a), dict({"dst": "0.0.0.0/0", "gw": "10.0.0.2"}, **b)]
    with pytest.raises(CNIError) as e:
        plan(routes)
    msg = e.value.msg
    assert "failed to add route '{0.0.0.0 00000000} via 10.0.0.2 dev eth0 metric 0" in msg
    assert "route '{0.0.0.0 00000000} via 10.0.0.1 dev eth0 metric 0" in msg
    assert "one set of metrics" in msg


def test_multipath_metrics_check_covers_later_nexthops_and_ipv6() -> None:
    with pytest.raises(CNIError, match="via 10.0.0.3 .* differ from those of route .* via 10.0.0.1"):
        plan([{"dst": "0.0.0.0/0", "gw": "10.0.0.1"}, {"dst": "0.0.0.0/0", "gw": "10.0.0.2"},
              {"dst": "0.0.0.0/0", "gw": "10.0.0.3", "mtu": 1280}])
    with pytest.raises(CNIError, match=r"mtu 1280, advmss unset\) differ .* \(mtu unset, advmss unset\)"):
        plan([{"dst": "::/0", "gw": "fd00::1"}, {"dst": "::/0", "gw": "fd00::2", "mtu": 1280}])


def test_different_metrics_are_fine_when_routes_do_not_merge() -> None:
    # other priority, or a link route next to a gatewayed one: separate kernel routes, each with its own metrics
    p = plan([{"dst": "0.0.0.0/0", "gw": "10.0.0.1", "mtu": 1400}, {"dst": "0.0.0.0/0", "gw": "10.0.0.2", "priority": 5}])
    assert [(x.gateways, x.mtu) for x in p] == [(["10.0.0.1"], 1400), (["10.0.0.2"], 0)]
    p = plan([{"dst": "10.5.0.0/16", "mtu": 1400}, {"dst": "10.5.0.0/16", "gw": "10.0.0.2"}], v4gw=None)
    assert [(x.gateways, x.mtu) for x in p] == [([None], 1400), (["10.0.0.2"], 0)]
    (p1,) = plan([{"dst": "0.0.0.0/0", "gw": "10.0.0.1", "mtu": 1400}, {"dst": "0.0.0.0/0", "gw": "10.0.0.2", "mtu": 1400}])
    assert p1.to_route().mtu == 1400 and p1.multipath


def test_mixed_family_gateway_is_refused_like_go_netlink() -> None:
    with pytest.raises(CNIError, match="gateway, source, and destination ip are not the same IP family"):
        plan([{"dst": "10.0.0.0/8", "gw": "fd00::1"}])


def test_order_is_first_appearance_and_gateway_canonicalised() -> None:
    p = plan([{"dst": "10.1.0.0/16", "gw": "10.0.0.1"}, {"dst": "10.2.0.0/16", "gw": "10.0.0.1"},
              {"dst": "10.1.0.0/16", "gw": "10.0.0.9"}, {"dst": "fd00:9::/64", "gw": "FD00:0::0001"}])
    assert [(x.dst_text, x.gateways) for x in p] == [
        ("10.1.0.0/16", ["10.0.0.1", "10.0.0.9"]), ("10.2.0.0/16", ["10.0.0.1"]), ("fd00:9::/64", ["fd00::1"])]


def test_no_routes_no_plan() -> None:
    assert plan([]) == []


@given(st.lists(st.tuples(st.sampled_from(["0.0.0.0/0", "10.1.0.0/16", "10.2.0.0/16"]),
                          st.integers(1, 20), st.sampled_from([0, 10]), st.integers(1, 256)), max_size=30))
def test_grouping_invariants(spec: list[tuple[str, int, int, int]]) -> None:
    routes = [{"dst": d, "gw": f"10.0.0.{g}", "priority": p, "weight": w} for d, g, p, w in spec]
    keys = [(d, p) for d, _g, p, _w in spec]
    pairs = [(d, g, p) for d, g, p, _w in spec]
    if len(set(pairs)) != len(pairs):
        with pytest.raises(CNIError, match="file exists"):
            plan(routes)
        return
    out = plan(routes)
    # One planned route per (dst, priority), in first-appearance order, holding every gateway in result order.
    assert [(x.dst_text, x.priority) for x in out] == list(dict.fromkeys(keys))
    for x in out:
        assert x.nexthops == [(f"10.0.0.{g}", w) for d, g, p, w in spec if (d, p) == (x.dst_text, x.priority)]
