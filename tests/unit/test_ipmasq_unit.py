"""ipmasq on the in-memory iptables/nft (tests/unit/fakenetfilter.py): one transaction per family, teardown and
GC by chain name and comment alone."""

from __future__ import annotations

from fakenetfilter import FakeNetfilter

from pycni.linux import ipmasq


def _chain(net: str, cid: str) -> str:
    return ipmasq.chain_name(net, cid)


def test_setup_is_one_restore_per_family_and_idempotent(fake: FakeNetfilter) -> None:
    ipmasq.setup("iptables", ["10.1.0.2/24", "fd01::2/64"], "net", "eth0", "c1")
    c = _chain("net", "c1")
    # a first ADD: no read (the chain is new, so nothing can refer to it yet)
    assert [(p, a[:3]) for p, a in fake.ipt.calls] == [("iptables-restore", ["<restore>", "*nat", f"-N {c}"]),
                                                       ("ip6tables-restore", ["<restore>", "*nat", f"-N {c}"])]
    tag = ["-m", "comment", "--comment", 'name: "net" id: "c1"']
    assert fake.ipt.rules(False, "nat", c) == [["-d", "10.1.0.0/24", "-j", "ACCEPT", *tag],
                                              ["!", "-d", "224.0.0.0/4", "-j", "MASQUERADE", *tag]]
    assert fake.ipt.rules(False, "nat", "POSTROUTING") == [["-s", "10.1.0.2", "-j", c, *tag]]
    assert fake.ipt.rules(True, "nat", c)[1][2] == "ff00::/8"
    before = {k: [list(r) for r in v] for k, v in fake.ipt.chains(False, "nat").items()}
    fake.ipt.calls.clear()
    ipmasq.setup("iptables", ["10.1.0.2/24", "fd01::2/64"], "net", "eth0", "c1")
    # again: `-N` fails, the table is read, nothing is missing
    assert [p for p, _ in fake.ipt.calls] == ["iptables-restore", "iptables", "ip6tables-restore", "ip6tables"]
    assert fake.ipt.chains(False, "nat") == before


def test_teardown_needs_no_addresses(fake: FakeNetfilter) -> None:
    ipmasq.setup("iptables", ["10.1.0.2/24", "fd01::2/64"], "net", "eth0", "c1")
    ipmasq.setup("iptables", ["10.1.0.3/24"], "net", "eth0", "c2")
    ipmasq.teardown([], "net", "eth0", "c1")
    for v6 in (False, True):
        assert _chain("net", "c1") not in fake.ipt.chains(v6, "nat")
        assert all(r[-5] != _chain("net", "c1") for r in fake.ipt.rules(v6, "nat", "POSTROUTING"))
    assert _chain("net", "c2") in fake.ipt.chains(False, "nat")
    fake.ipt.calls.clear()
    ipmasq.teardown(None, "net", "eth0", "c1")  # again: reads, nothing to change
    assert [p for p, _ in fake.ipt.calls] == ["iptables", "ip6tables"]


def test_gc_removes_only_this_networks_stale_chains(fake: FakeNetfilter) -> None:
    for net, cid in (("net", "c1"), ("net", "c2"), ("other", "c3")):
        ipmasq.setup("iptables", ["10.1.0.2/24"], net, "eth0", cid)
    fake.ipt.chains(False, "nat")["CNI-DN-1234"] = [["-m", "comment", "--comment", 'dnat name: "net" id: "c9"',
                                                      "-j", "ACCEPT"]]
    ipmasq.gc("net", [("c1", "eth0")])
    chains = fake.ipt.chains(False, "nat")
    assert _chain("net", "c1") in chains and _chain("other", "c3") in chains and "CNI-DN-1234" in chains
    assert _chain("net", "c2") not in chains
    assert len(fake.ipt.rules(False, "nat", "POSTROUTING")) == 2
