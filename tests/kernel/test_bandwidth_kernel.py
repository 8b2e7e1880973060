"""bandwidth through the executables: measured TCP goodput through the shaped veth within ±20 % of the configured
rate in each direction, the tc state equal to the Debian 1.1.1 binary's, CHECK and DEL, and pycni's subnet option.

Each scenario: a host netns running the plugins, a container attached with pycni's ptp (10.N.0.2, host end
10.N.0.1). Ingress (towards the container) is measured with the sender in the host, egress with the sender in
the container. Rates are a few Mbit/s so that Python senders are never the bottleneck on a small box.
"""

from __future__ import annotations

import pytest
from harness_common import (
    REF_DIR,
    NetnsFactory,
    assert_same,
    ipj,
    need_reference,
    norm_result,
    normalize,
    read_proc,
    sh,
)
from harness_meta import NET, World, link_state, measure, tcj

RATE = 4_000_000
BURST = 64_000
TOLERANCE = 0.20


@pytest.fixture
def world(netns_factory: NetnsFactory, pycni_dir: str) -> World:
    return World(netns_factory, "b", pycni_dir, pycni_dir)


def bw_conf(**kw: object) -> dict:
    c: dict = {"cniVersion": "1.0.0", "name": NET, "type": "bandwidth"}
    c.update(kw)
    return c


def ifb_of(w: World) -> str:
    from pycni.plugins.meta.bandwidth.device import ifb_name

    return ifb_name(NET, "cid1")


def within(measured: float, rate: int) -> bool:
    return abs(measured - rate) <= TOLERANCE * rate


def tc_state(w: World) -> dict:
    """qdiscs and ingress filters of the host veth, qdiscs of the ifb and its link attributes."""
    veth = w.host_veth()
    ifb = ifb_of(w)
    state: dict = {"veth_qdiscs": tcj(w.host, "qdisc", "show", "dev", veth),
                   "veth_ingress_filters": tcj(w.host, "filter", "show", "dev", veth, "ingress")}
    if any(lk["ifname"] == ifb for lk in ipj(w.host, "link", "show")):
        state["ifb_qdiscs"] = tcj(w.host, "qdisc", "show", "dev", ifb)
        state["ifb_link"] = link_state(w.host, ifb)
        state["ifb_sysfs_txqlen"] = read_proc(w.host, f"/sys/class/net/{ifb}/tx_queue_len")
        state["veth_mtu"] = link_state(w.host, veth)["mtu"]
    return state


def test_goodput_is_shaped_in_both_directions(world: World) -> None:
    prev = world.attach(41)
    conf = bw_conf(ingressRate=RATE, ingressBurst=BURST, egressRate=RATE, egressBurst=BURST)
    out = world.meta("bandwidth", "ADD", conf, prev)
    assert out.ok, out
    cont = world.container()
    ingress = measure(cont, "10.41.0.2", world.host)["bits_per_s"]
    egress = measure(world.host, "10.41.0.1", cont)["bits_per_s"]
    assert within(ingress, RATE), f"ingress goodput {ingress:.0f} bit/s, configured {RATE}"
    assert within(egress, RATE), f"egress goodput {egress:.0f} bit/s, configured {RATE}"


def test_directions_are_independent(world: World) -> None:
    """Only egress shaped: the ingress direction runs at veth speed (far above the rate)."""
    prev = world.attach(42)
    out = world.meta("bandwidth", "ADD", bw_conf(egressRate=RATE, egressBurst=BURST), prev)
    assert out.ok, out
    cont = world.container()
    assert "tbf" not in [q["kind"] for q in tcj(world.host, "qdisc", "show", "dev", world.host_veth())]
    ingress = measure(cont, "10.42.0.2", world.host, window=1.0)["bits_per_s"]
    assert ingress > 5 * RATE, ingress


def test_runtime_config_capability_and_check_and_del(world: World) -> None:
    prev = world.attach(43)
    conf = bw_conf(runtimeConfig={"bandwidth": {"ingressRate": 1_000_000, "ingressBurst": 80_000,
                                                "egressRate": 2_000_000, "egressBurst": 160_000}})
    out = world.meta("bandwidth", "ADD", conf, prev)
    assert out.ok, out
    ifb = ifb_of(world)
    assert out.json["interfaces"][-1]["name"] == ifb
    assert out.json["interfaces"][-1]["mac"] == link_state(world.host, ifb)["address"]
    veth_q = tcj(world.host, "qdisc", "show", "dev", world.host_veth())
    tbf = [q for q in veth_q if q["kind"] == "tbf"][0]
    # the reference's observation for the same numbers: rate 125000 burst 10000 lat 25ms
    assert (tbf["handle"], tbf["options"]["rate"], tbf["options"]["burst"], tbf["options"]["lat"]) == (
        "1:", 125000, 10000, 25000)
    assert world.meta("bandwidth", "CHECK", conf, out.json).ok
    other = bw_conf(runtimeConfig={"bandwidth": {"ingressRate": 2_000_000, "ingressBurst": 80_000}})
    bad = world.meta("bandwidth", "CHECK", other, out.json)
    assert bad.msg == "Rate doesn't match"
    # a missing shaper is noticed (upstream's CHECK passes when the first qdisc is not a tbf)
    sh("ip", "netns", "exec", world.host, "tc", "qdisc", "del", "dev", ifb, "root")
    assert world.meta("bandwidth", "CHECK", conf, out.json).msg == "Failed to find qdisc"
    assert world.meta("bandwidth", "DEL", conf, out.json).ok
    assert ifb not in [lk["ifname"] for lk in ipj(world.host, "link", "show")]
    assert world.meta("bandwidth", "DEL", conf, out.json).ok  # idempotent
    # DEL does not need the container namespace
    sh("ip", "netns", "del", world.container())
    assert world.meta("bandwidth", "DEL", conf, out.json).ok


def test_errors_with_a_real_prev_result(world: World) -> None:
    prev = world.attach(44)
    conf = bw_conf(ingressRate=RATE, ingressBurst=BURST)
    foreign = dict(prev, interfaces=[i for i in prev["interfaces"] if i.get("sandbox")])
    assert world.meta("bandwidth", "ADD", conf, foreign).msg == "no veth peer of container interface found in host ns"
    out = world.meta("bandwidth", "ADD", conf, prev, ifname="nope0")
    assert out.msg == 'container interface nope0 has no veth peer: could not look up "nope0": Link not found'
    assert world.meta("bandwidth", "ADD", conf, prev).ok
    again = world.meta("bandwidth", "ADD", conf, prev)
    assert again.msg == "create qdisc: file exists"


def test_tc_state_matches_the_reference(netns_factory: NetnsFactory, pycni_dir: str) -> None:
    need_reference("bandwidth")
    py = World(netns_factory, "bp", pycni_dir, pycni_dir)
    ref = World(netns_factory, "br", REF_DIR, pycni_dir)
    conf = bw_conf(ingressRate=1_000_000, ingressBurst=80_000, egressRate=2_000_000, egressBurst=160_000)
    results, states = {}, {}
    for w in (py, ref):
        prev = w.attach(45, mtu=1450)
        out = w.meta("bandwidth", "ADD", conf, prev)
        assert out.ok, (w.tag, out)
        results[w.tag] = norm_result(out.json, w)
        states[w.tag] = normalize(tc_state(w), w)
    assert_same(results["bp"], results["br"], "ADD result")
    assert_same(states["bp"], states["br"], "tc state after ADD")
    after = {}
    for w in (py, ref):
        assert w.meta("bandwidth", "DEL", conf, results["bp"]).ok
        after[w.tag] = normalize(tc_state(w), w)
    assert_same(after["bp"], after["br"], "tc state after DEL")


# --- pycni extension: unshapedSubnets / shapedSubnets ---------------------------------------------


def test_unshaped_subnets_bypass_the_shaper(world: World) -> None:
    prev = world.attach(46, routes=[{"dst": "0.0.0.0/0"}])
    cont = world.container()
    sh("ip", "-n", world.host, "addr", "add", "198.51.100.1/32", "dev", "lo")
    conf = bw_conf(ingressRate=RATE, ingressBurst=BURST, egressRate=RATE, egressBurst=BURST,
                   unshapedSubnets=["198.51.100.0/24", "2001:db8::/32"])
    out = world.meta("bandwidth", "ADD", conf, prev)
    assert out.ok, out
    veth_kinds = sorted(q["kind"] for q in tcj(world.host, "qdisc", "show", "dev", world.host_veth()))
    assert veth_kinds == ["htb", "ingress", "pfifo", "tbf"]
    filters = [f for f in tcj(world.host, "filter", "show", "dev", world.host_veth(), "parent", "1:")
               if (f.get("options") or {}).get("flowid")]
    assert sorted((f["protocol"], f["options"]["flowid"]) for f in filters) == [("ip", "1:1"), ("ipv6", "1:1")]
    assert world.meta("bandwidth", "CHECK", conf, out.json).ok
    shaped = measure(world.host, "10.46.0.1", cont)["bits_per_s"]
    assert within(shaped, RATE), f"egress to a shaped peer: {shaped:.0f} bit/s"
    free_out = measure(world.host, "198.51.100.1", cont, window=1.0)["bits_per_s"]
    assert free_out > 3 * RATE, f"egress to an unshaped peer: {free_out:.0f} bit/s"
    free_in = measure(cont, "10.46.0.2", world.host, src="198.51.100.1", window=1.0)["bits_per_s"]
    assert free_in > 3 * RATE, f"ingress from an unshaped peer: {free_in:.0f} bit/s"
    assert world.meta("bandwidth", "DEL", conf, out.json).ok


def test_shaped_subnets_shape_only_them(world: World) -> None:
    prev = world.attach(47, routes=[{"dst": "0.0.0.0/0"}])
    cont = world.container()
    sh("ip", "-n", world.host, "addr", "add", "198.51.100.1/32", "dev", "lo")
    conf = bw_conf(ingressRate=RATE, ingressBurst=BURST, shapedSubnets=["198.51.100.0/24"])
    out = world.meta("bandwidth", "ADD", conf, prev)
    assert out.ok, out
    shaped = measure(cont, "10.47.0.2", world.host, src="198.51.100.1")["bits_per_s"]
    assert within(shaped, RATE), f"ingress from a shaped peer: {shaped:.0f} bit/s"
    free = measure(cont, "10.47.0.2", world.host, window=1.0)["bits_per_s"]
    assert free > 3 * RATE, f"ingress from an unshaped peer: {free:.0f} bit/s"
