"""cluster-ipam against a real 3-member etcd on 127.0.0.1: simulated nodes exec the installed plugin.

Each simulated node is its own process with its own NODENAME (and so its own flock and hints).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cluster_ipam_exec as X
import etcd_cluster

pytestmark = [pytest.mark.etcd,
              pytest.mark.skipif(not etcd_cluster.available(), reason="etcd (Debian etcd-server) not installed")]


@pytest.fixture(scope="module")
def exe(tmp_path_factory: pytest.TempPathFactory) -> str:
    return X.install(str(tmp_path_factory.mktemp("bin")))


@pytest.fixture(scope="module")
def cluster():
    with etcd_cluster.Cluster() as c:
        yield c


def net_keys(cluster: etcd_cluster.Cluster, name: str) -> dict[str, str]:
    return cluster.prefix_kvs(f"{X.PREFIX}/{name}/")


def test_8_nodes_x_50_parallel_adds_are_400_distinct_addresses_and_dels_leave_nothing(exe, cluster, tmp_path):
    c = X.conf(cluster.endpoints, str(tmp_path), name="big", range="10.40.0.0/16", exclude=["10.40.0.0/24"])
    calls = [("ADD", c, f"n{n}c{i:02d}", f"node{n}") for n in range(8) for i in range(50)]
    t = time.monotonic()
    adds = X.run_many(exe, calls)
    took = time.monotonic() - t
    assert [r.rc for r in adds] == [0] * 400, [r for r in adds if r.rc][:3]
    addrs = [r.addresses[0] for r in adds]
    assert len(set(addrs)) == 400
    assert all(a.startswith("10.40.") and a.endswith("/16") and not a.startswith("10.40.0.") for a in addrs)
    kv = net_keys(cluster, "big")
    assert X.check_invariants(kv, "big") == []
    assert sum(k.startswith(f"{X.PREFIX}/big/ips/") for k in kv) == 400
    # Blocks: each node allocated inside its own blocks (50 addresses -> 1 block of 64, no borrow).
    blocks = {k: json.loads(v)["node"] for k, v in kv.items() if "/blocks/" in k}
    assert sorted(set(blocks.values())) == [f"node{n}" for n in range(8)]
    assert sum(r.stats.get("borrows", 0) for r in adds) == 0
    print(f"400 parallel ADDs in {took:.1f}s, {len(blocks)} blocks, "
          f"round trips/ADD {sum(r.stats['rt'] for r in adds) / 400:.2f}")

    dels = X.run_many(exe, [("DEL", c, cid, node) for _, _, cid, node in calls])
    assert [r.rc for r in dels] == [0] * 400, [r for r in dels if r.rc][:3]
    left = net_keys(cluster, "big")
    assert [k for k in left if "/ips/" in k or "/handles/" in k or "/bynode/" in k] == []


def test_dual_stack_add_is_one_txn_idempotent_checkable_and_del_is_idempotent(exe, cluster, tmp_path):
    c = X.conf(cluster.endpoints, str(tmp_path), name="dual",
               ranges=[[{"subnet": "10.50.0.0/24"}], [{"subnet": "fd50::/64"}]],
               routes=[{"dst": "0.0.0.0/0"}], dns={"nameservers": ["10.50.0.53"]})
    a = X.run(exe, "ADD", c, "ctr1", "nodeA")
    assert a.rc == 0, a
    v4, v6 = a.addresses
    assert v4.startswith("10.50.0.") and v4.endswith("/24") and v6.startswith("fd50::") and v6.endswith("/64")
    assert a.out["ips"][0]["gateway"] == "10.50.0.1" and v4 != "10.50.0.1/24"
    assert a.out["routes"] == [{"dst": "0.0.0.0/0"}] and a.out["dns"] == {"nameservers": ["10.50.0.53"]}
    assert a.stats["claims"] == 2
    b = X.run(exe, "ADD", c, "ctr2", "nodeA")
    assert b.stats["rt"] == 2 and b.stats["claims"] == 0  # steady state: one read txn + one write txn
    again = X.run(exe, "ADD", c, "ctr1", "nodeA")  # a retried ADD returns the same addresses
    assert again.addresses == [v4, v6] and again.stats["rt"] == 1
    kv = net_keys(cluster, "dual")
    assert X.check_invariants(kv, "dual") == []
    rec = json.loads(kv[f"{X.PREFIX}/dual/handles/ctr1/eth0"])
    assert [e["address"] for e in rec["ips"]] == [v4, v6]

    chk = dict(c, prevResult=a.out)
    assert X.run(exe, "CHECK", chk, "ctr1", "nodeA").rc == 0
    other = dict(c, prevResult={"cniVersion": "1.1.0", "ips": [{"address": "10.50.0.99/24"}]})
    bad = X.run(exe, "CHECK", other, "ctr1", "nodeA")
    assert bad.rc == 1 and "missing from prevResult" in bad.out["msg"]
    assert "no allocation" in X.run(exe, "CHECK", chk, "nothere", "nodeA").out["msg"]

    for _ in range(2):
        assert X.run(exe, "DEL", c, "ctr1", "nodeA").rc == 0
    assert X.run(exe, "DEL", c, "ctr2", "nodeA").rc == 0
    assert [k for k in net_keys(cluster, "dual") if "/ips/" in k or "/handles/" in k or "/bynode/" in k] == []


def test_exhaustion_borrowing_reclaim_and_strict_affinity(exe, cluster, tmp_path):
    # 10.60.0.0/28 in /30 blocks: usable .1-.14, blocks of 3, 4, 4, 3 addresses.
    c = X.conf(cluster.endpoints, str(tmp_path), name="tiny", range="10.60.0.0/28", block_size=30,
               empty_block_reclaim_seconds=0)
    got = [X.run(exe, "ADD", c, f"a{i}", "nodeA") for i in range(4)]
    assert all(r.rc == 0 for r in got), got
    got += [X.run(exe, "ADD", c, f"b{i}", "nodeB") for i in range(10)]
    assert all(r.rc == 0 for r in got), got
    addrs = sorted(r.addresses[0] for r in got)
    assert len(set(addrs)) == 14
    assert sum(r.stats.get("borrows", 0) for r in got) >= 1  # nodeB borrowed from nodeA's blocks
    full = X.run(exe, "ADD", c, "b99", "nodeB")
    assert full.rc == 1 and full.code == 999
    assert full.out["msg"] == "no IP addresses available in range set: 10.60.0.1-10.60.0.14"
    st = X.run(exe, "STATUS", c, "", "nodeB")
    assert st.code == 50 and "no IP addresses available" in st.out["msg"]
    assert X.check_invariants(net_keys(cluster, "tiny"), "tiny") == []
    # nodeA frees its addresses: STATUS recovers and nodeB gets them back (borrowing or reclaiming).
    for i in range(4):
        assert X.run(exe, "DEL", c, f"a{i}", "nodeA").rc == 0
    assert X.run(exe, "STATUS", c, "", "nodeB").rc == 0
    r = X.run(exe, "ADD", c, "b100", "nodeB")
    assert r.rc == 0 and r.stats["borrows"] + r.stats["reclaims"] == 1, r
    for i in [*range(10), 100]:
        assert X.run(exe, "DEL", c, f"b{i}", "nodeB").rc == 0
    assert [k for k in net_keys(cluster, "tiny") if "/ips/" in k or "/handles/" in k] == []

    # An empty block of another node is reclaimed (one txn: the range compare proves it empty).
    e = X.conf(cluster.endpoints, str(tmp_path), name="recl", range="10.62.0.0/29", block_size=30,
               empty_block_reclaim_seconds=0, strict_affinity=True)
    assert X.run(exe, "ADD", e, "a0", "nodeA").rc == 0
    assert X.run(exe, "DEL", e, "a0", "nodeA").rc == 0
    runs = [X.run(exe, "ADD", e, f"b{i}", "nodeB") for i in range(6)]
    assert [x.rc for x in runs] == [0] * 6, runs
    assert sum(x.stats["reclaims"] for x in runs) == 1
    owners = {json.loads(v)["node"] for k, v in net_keys(cluster, "recl").items() if "/blocks/" in k}
    assert owners == {"nodeB"}
    assert X.check_invariants(net_keys(cluster, "recl"), "recl") == []

    # strict affinity: nodeD never borrows, so it runs out while nodeC's block still has room.
    s = X.conf(cluster.endpoints, str(tmp_path), name="strict", range="10.61.0.0/28", block_size=30,
               strict_affinity=True)
    assert X.run(exe, "ADD", s, "c0", "nodeC").rc == 0
    d = [X.run(exe, "ADD", s, f"d{i}", "nodeD") for i in range(12)]
    # nodeD gets the three other blocks (10 or 11 addresses: blocks hold 3 or 4), never nodeC's.
    assert [x.rc for x in d].count(0) in (10, 11) and d[-1].code == 999
    assert X.run(exe, "STATUS", s, "", "nodeD").code == 50
    assert X.run(exe, "STATUS", s, "", "nodeC").rc == 0
    assert X.run(exe, "ADD", s, "c1", "nodeC").rc == 0
    assert X.check_invariants(net_keys(cluster, "strict"), "strict") == []


def test_gc_releases_only_this_nodes_stale_attachments(exe, cluster, tmp_path):
    c = X.conf(cluster.endpoints, str(tmp_path), name="gcnet", range="10.70.0.0/24")
    for node in ("n1", "n2"):
        for i in range(3):
            assert X.run(exe, "ADD", c, f"{node}c{i}", node).rc == 0
    keys0 = net_keys(cluster, "gcnet")
    # No valid-attachments key: GC does nothing (conservative).
    assert X.run(exe, "GC", c, "", "n1").rc == 0
    assert net_keys(cluster, "gcnet") == keys0
    legacy = dict(c, **{"cni.dev/attachments": [{"containerID": f"n1c{i}", "ifname": "eth0"} for i in (0, 1)]})
    assert X.run(exe, "GC", legacy, "", "n1").rc == 0
    assert len([k for k in net_keys(cluster, "gcnet") if "/handles/" in k]) == 5  # n1c2 went
    gc = dict(c, **{"cni.dev/valid-attachments": [{"containerID": "n1c0", "ifname": "eth0"}]})
    assert X.run(exe, "GC", gc, "", "n1").rc == 0
    handles = sorted(k.split("/handles/")[1] for k in net_keys(cluster, "gcnet") if "/handles/" in k)
    assert handles == ["n1c0/eth0", "n2c0/eth0", "n2c1/eth0", "n2c2/eth0"]
    assert X.check_invariants(net_keys(cluster, "gcnet"), "gcnet") == []
    for cid, node in (("n1c0", "n1"), ("n2c0", "n2"), ("n2c1", "n2"), ("n2c2", "n2")):
        assert X.run(exe, "DEL", c, cid, node).rc == 0
    # Empty blocks older than the reclaim age go back to the pool on GC.
    gc0 = dict(gc, ipam=dict(gc["ipam"], empty_block_reclaim_seconds=0))
    assert X.run(exe, "GC", gc0, "", "n1").rc == 0
    owners = {json.loads(v)["node"] for k, v in net_keys(cluster, "gcnet").items() if "/blocks/" in k}
    assert owners == {"n2"}


def test_cli_cluster_show_and_gc_of_dead_nodes(exe, cluster, tmp_path, capsys):
    import argparse

    from pycni.cli.cluster_ipam_args import add_parsers

    c = X.conf(cluster.endpoints, str(tmp_path), name="clinet", range="10.75.0.0/24")
    conf_file = tmp_path / "clinet.conflist"
    conf_file.write_text(json.dumps({"cniVersion": "1.1.0", "name": "clinet",
                                     "plugins": [{"type": "macvlan", "ipam": c["ipam"]}]}))
    for node, n in (("alive", 2), ("dead", 3)):
        for i in range(n):
            assert X.run(exe, "ADD", c, f"{node}{i}", node).rc == 0
    p = argparse.ArgumentParser()
    add_parsers(p.add_subparsers())

    def cli(*argv: str) -> int:
        ns = p.parse_args(list(argv))
        return ns.func(ns)

    assert cli("cluster-show", str(conf_file), "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["ranges"][0]["addresses_used"] == 5 and shown["ranges"][0]["blocks_claimed"] == 2
    assert shown["nodes"] == {"alive": {"attachments": 2, "blocks": 1}, "dead": {"attachments": 3, "blocks": 1}}
    assert cli("gc", str(conf_file), "--live-nodes", "alive", "--dry-run") == 0
    assert "would release dead0/eth0 of node dead" in capsys.readouterr().out
    assert len([k for k in net_keys(cluster, "clinet") if "/handles/" in k]) == 5
    assert cli("gc", str(conf_file), "--live-nodes", "alive,other") == 0
    kv = net_keys(cluster, "clinet")
    assert sorted(k.split("/handles/")[1] for k in kv if "/handles/" in k) == ["alive0/eth0", "alive1/eth0"]
    assert {json.loads(v)["node"] for k, v in kv.items() if "/blocks/" in k} == {"alive"}
    assert X.check_invariants(kv, "clinet") == []
    assert cli("cluster-show", str(tmp_path / "missing.conf")) == 2


def test_a_write_that_committed_but_timed_out_is_resent_and_returns_the_same_addresses(cluster, tmp_path):
    from pycni.plugins.ipam.cluster_ipam import config as C
    from pycni.plugins.ipam.cluster_ipam import etcd as E
    from pycni.plugins.ipam.cluster_ipam.engine import Engine

    c = X.conf(cluster.endpoints, str(tmp_path), name="lost", ranges=[[{"subnet": "10.77.0.0/24"}],
                                                                      [{"subnet": "fd77::/64"}]])
    cfg = C.load(c, {"NODENAME": "n1"})
    handle = E.b64(f"{X.PREFIX}/lost/handles/ctr/eth0".encode()).encode()

    class LosesFirstWriteReply(E.Client):
        lost = 0

        def _once(self, ep, path, body, timeout):
            reply = super()._once(ep, path, body, timeout)
            if b'"compare":[{' in body and handle in body and not self.lost:
                self.lost += 1  # committed in etcd, but the client never hears it
                raise E.Unavailable("timed out")
            return reply

    client = LosesFirstWriteReply(cfg.endpoints, 0, cfg.attempt, cfg.budget)
    eng = Engine(cfg, client)
    got = eng.add("ctr", "eth0", {}, {})
    assert client.lost == 1 and eng.stats["conflicts"] == 0
    kv = net_keys(cluster, "lost")
    rec = json.loads(kv[f"{X.PREFIX}/lost/handles/ctr/eth0"])
    assert [e["address"] for e in got] == [e["address"] for e in rec["ips"]]
    assert sum("/ips/" in k for k in kv) == 2 and X.check_invariants(kv, "lost") == []
    assert eng.release("ctr", "eth0") and not eng.release("ctr", "eth0")
    assert [k for k in net_keys(cluster, "lost") if "/ips/" in k or "/handles/" in k] == []


def test_interface_plugins_delegate_to_it_in_process(exe, cluster, tmp_path):
    """What pycni's macvlan/bridge/... do (pycni.invoke finds the launcher on CNI_PATH and runs it
    in-process) and what the reference binaries do (exec by type name)."""
    from pycni import invoke

    c = X.conf(cluster.endpoints, str(tmp_path), name="deleg", range="10.78.0.0/24")
    stdin = json.dumps({**c, "type": "macvlan"}).encode()
    env = {**X.env("ADD", "ctr9", "nodeZ"), "CNI_PATH": str(Path(exe).parent)}
    res = invoke.delegate("cluster-ipam", "ADD", stdin, env)
    assert res is not None and res["ips"][0]["address"].startswith("10.78.0.")
    rec = json.loads(net_keys(cluster, "deleg")[f"{X.PREFIX}/deleg/handles/ctr9/eth0"])
    assert rec["node"] == "nodeZ"
    assert X.run(exe, "ADD", c, "ctr9", "nodeZ").addresses == [res["ips"][0]["address"]]
    invoke.delegate("cluster-ipam", "DEL", stdin, env)
    assert [k for k in net_keys(cluster, "deleg") if "/handles/" in k] == []
