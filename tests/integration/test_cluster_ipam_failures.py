"""cluster-ipam while etcd members die: follower and leader killed mid-run, then two of three.

Each test has its own 3-member cluster on 127.0.0.1 (members are SIGKILLed and restarted).
Figures are printed (run with -s) for the report; the assertions are the invariants.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cluster_ipam_exec as X
import etcd_cluster

pytestmark = [pytest.mark.etcd,
              pytest.mark.skipif(not etcd_cluster.available(), reason="etcd (Debian etcd-server) not installed")]

NODES = 4
PER_NODE = 30


@pytest.fixture(scope="module")
def exe(tmp_path_factory: pytest.TempPathFactory) -> str:
    return X.install(str(tmp_path_factory.mktemp("bin")))


@pytest.fixture
def cluster():
    with etcd_cluster.Cluster() as c:
        yield c


def busy_run(exe: str, c: dict, tag: str, during) -> list[X.Exec]:
    """NODES simulated nodes, each PER_NODE ADDs in a row (retrying code 11 like a runtime), while
    `during()` runs in this thread."""
    results: list[list[X.Exec]] = [[] for _ in range(NODES)]

    def node(n: int) -> None:
        results[n] = X.node_loop(exe, "ADD", c, [f"{tag}n{n}c{i}" for i in range(PER_NODE)], f"node{n}", retries=3)

    threads = [threading.Thread(target=node, args=(n,)) for n in range(NODES)]
    for t in threads:
        t.start()
    during()
    for t in threads:
        t.join(300)
    return [r for rs in results for r in rs]


def summary(what: str, runs: list[X.Exec]) -> str:
    lat = sorted(r.seconds for r in runs)
    return (f"{what}: {len(runs)} ADDs, failed {sum(r.rc != 0 for r in runs)}, "
            f"code-11 retries {sum(r.stats.get('retries', 0) for r in runs)}, "
            f"p50 {lat[len(lat) // 2] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms")


@pytest.mark.parametrize("victim", ["follower", "leader"])
def test_member_killed_mid_run_every_add_succeeds_without_duplicates(exe, cluster, tmp_path, victim):
    c = X.conf(cluster.endpoints, str(tmp_path), name="chaos", range="10.80.0.0/16")
    killed: list[int] = []

    def kill() -> None:
        time.sleep(1.0)
        leader = cluster.leader()
        i = leader if victim == "leader" else (leader + 1) % 3
        cluster.kill_member(i)
        killed.append(i)

    runs = busy_run(exe, c, victim, kill)
    print("\n" + summary(f"{victim} SIGKILLed at 1 s", runs))
    assert len(runs) == NODES * PER_NODE
    assert [r for r in runs if r.rc != 0] == []
    addrs = [r.addresses[0] for r in runs]
    assert len(set(addrs)) == len(addrs)  # zero duplicates
    kv = cluster.prefix_kvs(f"{X.PREFIX}/chaos/")
    assert X.check_invariants(kv, "chaos") == []
    cluster.start_member(killed[0])
    dels = X.run_many(exe, [("DEL", c, f"{victim}n{n}c{i}", f"node{n}") for n in range(NODES) for i in range(PER_NODE)])
    assert [r for r in dels if r.rc != 0] == []
    assert [k for k in cluster.prefix_kvs(f"{X.PREFIX}/chaos/") if "/ips/" in k or "/handles/" in k] == []


def test_two_of_three_down_is_code_11_with_no_new_keys_then_recovery(exe, cluster, tmp_path):
    c = X.conf(cluster.endpoints, str(tmp_path), name="quorum", ranges=[[{"subnet": "10.90.0.0/24"}],
                                                                        [{"subnet": "fd90::/64"}]])
    assert X.run(exe, "ADD", c, "before", "node0").rc == 0
    survivor = cluster.leader()
    for i in range(3):
        if i != survivor:
            cluster.kill_member(i)
    time.sleep(0.5)
    snap = cluster.prefix_kvs(f"{X.PREFIX}/", serializable=True)

    t = time.monotonic()
    add = X.run(exe, "ADD", c, "during", "node1")
    took = time.monotonic() - t
    print(f"\nADD with 2 of 3 down: code {add.code} in {took:.2f} s: {add.out}")
    assert add.code == 11 and add.out["msg"] == "etcd unavailable"
    assert took < 5.0
    for p in cluster.client_ports:
        assert f"127.0.0.1:{p}:" in add.out["details"]
    delete = X.run(exe, "DEL", c, "before", "node0")
    assert delete.code == 11  # never a silent success
    status = X.run(exe, "STATUS", c, "", "node0")
    assert status.code == 50
    assert cluster.prefix_kvs(f"{X.PREFIX}/", serializable=True) == snap  # no partial state

    restarted = (survivor + 1) % 3
    cluster.start_member(restarted)
    t = time.monotonic()
    while True:
        add = X.run(exe, "ADD", c, "after", "node1")
        if add.rc == 0 or time.monotonic() - t > 30:
            break
    print(f"first successful ADD {time.monotonic() - t:.2f} s after restarting one member")
    assert add.rc == 0, add
    assert X.run(exe, "DEL", c, "before", "node0").rc == 0
    assert X.run(exe, "DEL", c, "after", "node1").rc == 0
    assert X.check_invariants(cluster.prefix_kvs(f"{X.PREFIX}/quorum/"), "quorum") == []
