"""cluster-ipam block arithmetic and allocation decisions (pure, no etcd)."""

from __future__ import annotations

from pycni.plugins.ipam.cluster_ipam import blocks as B


def v4(s: str) -> int:
    a, b, c, d = (int(x) for x in s.split("."))
    return a << 24 | b << 16 | c << 8 | d


def r24(**kw: object) -> B.Range:
    args: dict[str, object] = {"family": 4, "net": v4("10.0.0.0"), "plen": 24, "start": v4("10.0.0.1"), "end": v4("10.0.0.254")}
    args.update(kw)
    return B.Range(**args)  # type: ignore[arg-type]


def test_geometry_of_a_v4_range() -> None:
    r = r24()
    assert (r.bsize, r.first_block, r.last_block, r.nblocks) == (64, 0, 3, 4)
    assert r.block_hex(2) == "0a000080"
    assert r.block_from_hex("0a0000c0") == 3
    assert r.block_of(v4("10.0.0.70")) == 1


def test_usable_skips_network_broadcast_gateway_and_excludes() -> None:
    r = r24(gateway=v4("10.0.0.1"), excludes=[(v4("10.0.0.10"), v4("10.0.0.19")), (v4("10.0.0.200"), v4("10.0.0.200"))])
    u0 = r.usable(0)
    assert 0 not in u0 and 1 not in u0 and all(o not in u0 for o in range(10, 20))
    assert u0[0] == 2 and len(u0) == 64 - 2 - 10
    u3 = r.usable(3)
    assert 63 not in u3 and (200 - 192) not in u3 and len(u3) == 64 - 2


def test_range_start_end_cut_blocks() -> None:
    r = r24(start=v4("10.0.0.100"), end=v4("10.0.0.130"))
    assert (r.first_block, r.last_block) == (1, 2)
    assert r.usable(1) == list(range(100 - 64, 64))
    assert r.usable(2) == list(range(3))


def test_small_subnet_is_one_block() -> None:
    r = B.Range(4, v4("10.1.0.0"), 28, v4("10.1.0.1"), v4("10.1.0.14"), block_len=26)
    assert r.block_len == 28 and r.nblocks == 1 and r.usable(0) == list(range(1, 15))


def test_ipv6_slash64_never_enumerated() -> None:
    net = 0xFD00 << 112
    r = B.Range(6, net, 64, net + 1, net + (1 << 64) - 1, block_len=122)
    assert r.nblocks == 1 << 58
    assert len(r.block_hex(5)) == 32
    assert len(r.usable(12345)) == 64
    ps = B.probes("n1/pool", r.first_block, r.nblocks, 4)
    assert len(set(ps)) == 4 and all(r.first_block <= p <= r.last_block for p in ps)
    assert ps == B.probes("n1/pool", r.first_block, r.nblocks, 4)
    assert ps != B.probes("n2/pool", r.first_block, r.nblocks, 4)


def test_choose_ordinal_continues_after_highest_then_wraps() -> None:
    us = list(range(2, 10))
    assert B.choose_ordinal(us, []) == 2
    assert B.choose_ordinal(us, [2, 3]) == 4
    assert B.choose_ordinal(us, [2, 9]) == 3  # nothing above 9: wrap to the lowest free
    assert B.choose_ordinal(us, [5]) == 6  # no instant reuse below the highest
    assert B.choose_ordinal(us, us) is None


def test_free_in_run() -> None:
    assert B.free_in_run(5, [], 16, 100) == 5
    assert B.free_in_run(5, [6, 7], 16, 100) == 5
    assert B.free_in_run(5, [5, 6, 8], 16, 100) == 7
    assert B.free_in_run(5, [5, 6, 7], 16, 100) == 8  # the read ended early: 8 is free
    assert B.free_in_run(5, list(range(5, 21)), 16, 100) is None  # a full page: cannot tell
    assert B.free_in_run(98, [98, 99, 100], 16, 100) is None  # claimed up to the end of the range


def test_endpoint_start_is_sticky_and_spread() -> None:
    starts = {B.endpoint_start(f"node{i}", 3) for i in range(30)}
    assert starts == {0, 1, 2}
    assert B.endpoint_start("node7", 3) == B.endpoint_start("node7", 3)
    assert B.endpoint_start("x", 0) == 0
