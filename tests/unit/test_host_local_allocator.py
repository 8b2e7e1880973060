"""host-local IPAllocator and RangeIter (upstream allocator_test.go, with its fake store)."""

from __future__ import annotations

import pytest

from pycni.plugins.ipam.host_local.allocator import AllocationError, IPAllocator
from pycni.plugins.ipam.host_local.range import Range, RangeIter, RangeSet, ip_text
from pycni.spec import ipnet


def ip(s: str) -> tuple[int, int]:
    v = ipnet.parse_ip(s)
    assert v is not None
    return v


class FakeStore:
    """upstream's testing.FakeStore: keyed by IP text, matches by container ID only."""

    def __init__(self, ipmap: dict[str, str] | None = None, last: dict[str, tuple[int, int]] | None = None):
        self.ipmap = dict(ipmap or {})
        self.last = dict(last or {})

    def reserve(self, cid, ifname, addr, range_id):
        k = ip_text(addr)
        if k in self.ipmap:
            return False
        self.ipmap[k] = cid
        self.last[range_id] = addr
        return True

    def last_reserved_ip(self, range_id):
        return self.last.get(range_id)

    def release_by_id(self, cid, ifname):
        for k in [k for k, v in self.ipmap.items() if v == cid]:
            del self.ipmap[k]

    def get_by_id(self, cid, ifname):
        return [ip(k) for k, v in self.ipmap.items() if v == cid]


def rangeset(*cidrs: str) -> RangeSet:
    rs = RangeSet(Range.from_cidr(c) for c in cidrs)
    rs.canonicalize()
    return rs


def mkalloc() -> IPAllocator:
    return IPAllocator(rangeset("192.168.1.0/29"), FakeStore(), "rangeid")


def walk(alloc: IPAllocator) -> list[str]:
    it = alloc.get_iter()
    out = []
    while (item := it.next()) is not None:
        out.append(ip_text(item[0]))
        assert len(out) < 100
    return out


def test_iterates_the_whole_range_once():  # AL1
    assert walk(mkalloc()) == ["192.168.1.2", "192.168.1.3", "192.168.1.4", "192.168.1.5", "192.168.1.6"]


def test_iteration_after_reserving_the_end():  # AL2
    a = mkalloc()
    assert a.store.reserve("ID", "eth0", ip("192.168.1.6"), a.range_id)
    a.store.release_by_id("ID", "eth0")
    assert walk(a) == ["192.168.1.2", "192.168.1.3", "192.168.1.4", "192.168.1.5", "192.168.1.6"]


def test_iteration_resumes_after_last_reserved():  # AL3
    a = mkalloc()
    a.store.reserve("ID", "eth0", ip("192.168.1.3"), a.range_id)
    a.store.release_by_id("ID", "eth0")
    assert walk(a) == ["192.168.1.4", "192.168.1.5", "192.168.1.6", "192.168.1.2", "192.168.1.3"]


@pytest.mark.parametrize(
    "subnets,taken,last,want",
    [
        (["10.0.0.0/29"], [], None, "10.0.0.2"),  # AL4.1
        (["2001:db8:1::0/64"], [], None, "2001:db8:1::2"),  # AL4.2
        (["10.0.0.0/30"], [], None, "10.0.0.2"),  # AL4.3
        (["10.0.0.0/29"], ["10.0.0.2"], None, "10.0.0.3"),  # AL4.4
        (["10.0.0.0/29"], [], "10.0.0.5", "10.0.0.6"),  # AL4.5
        (["10.0.0.0/29"], ["10.0.0.4", "10.0.0.5"], "10.0.0.3", "10.0.0.6"),  # AL4.6
        (["10.0.0.0/29"], ["10.0.0.6"], "10.0.0.5", "10.0.0.2"),  # AL4.7
        (["10.0.0.0/29"], ["10.0.0.2"], "10.0.0.128", "10.0.0.3"),  # AL4.8
        (["10.0.0.0/29"], ["10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"], "10.0.0.3", "10.0.0.3"),  # AL4.9
        (["10.0.0.0/30", "10.0.1.0/30"], [], None, "10.0.0.2"),  # AL4.10
        (["10.0.0.0/30", "10.0.1.0/30"], [], "10.0.0.2", "10.0.1.2"),  # AL4.11
        (["10.0.0.0/30", "10.0.1.0/30", "10.0.2.0/30"], [], "10.0.2.2", "10.0.0.2"),  # AL4.12
    ],
)
def test_get_picks_the_next_free_address(subnets, taken, last, want):
    store = FakeStore({t: "id" for t in taken}, {"rangeid": ip(last)} if last else {})
    a = IPAllocator(rangeset(*subnets), store, "rangeid")
    got = a.get("ID", "eth0", None)
    assert got["address"].split("/")[0] == want


def test_allocates_in_order_and_never_the_broadcast():  # AL5
    a = mkalloc()
    for i in range(2, 7):
        got = a.get(f"ID{i}", "eth0", None)
        assert got == {"address": f"192.168.1.{i}/29", "gateway": "192.168.1.1"}
    with pytest.raises(AllocationError):
        a.get("ID8", "eth0", None)


def test_round_robin_after_release():  # AL6
    a = mkalloc()
    assert a.get("ID", "eth0", None)["address"] == "192.168.1.2/29"
    a.release("ID", "eth0")
    assert a.get("ID", "eth0", None)["address"] == "192.168.1.3/29"


def test_requested_ip():  # AL7
    a = mkalloc()
    assert a.get("ID", "eth0", ip("192.168.1.5"))["address"] == "192.168.1.5/29"


def test_requested_ip_twice():  # AL8
    a = mkalloc()
    a.get("ID", "eth0", ip("192.168.1.5"))
    with pytest.raises(AllocationError) as e:
        a.get("ID", "eth0", ip("192.168.1.5"))
    assert str(e.value) == "requested IP address 192.168.1.5 is not available in range set 192.168.1.1-192.168.1.6"


def test_requested_ip_after_range_end():  # AL9
    a = mkalloc()
    a.rangeset[0].end = ip("192.168.1.4")
    with pytest.raises(ValueError):
        a.get("ID", "eth0", ip("192.168.1.5"))


def test_requested_ip_before_range_start():  # AL10
    a = mkalloc()
    a.rangeset[0].start = ip("192.168.1.3")
    with pytest.raises(ValueError):
        a.get("ID", "eth0", ip("192.168.1.2"))


def test_requested_gateway():
    a = mkalloc()
    with pytest.raises(AllocationError, match=r"^requested ip 192.168.1.1 is subnet's gateway$"):
        a.get("ID", "eth0", ip("192.168.1.1"))


@pytest.mark.parametrize(
    "subnets,taken",
    [
        (["10.0.0.0/30"], ["10.0.0.2"]),
        (["10.0.0.0/29"], ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]),
        (["10.0.0.0/30", "10.0.1.0/30"], ["10.0.0.2", "10.0.1.2"]),
    ],
)
def test_exhausted(subnets, taken):  # AL11
    a = IPAllocator(rangeset(*subnets), FakeStore({t: "id" for t in taken}), "rangeid")
    with pytest.raises(AllocationError) as e:
        a.get("ID", "eth0", None)
    assert str(e.value).startswith("no IP addresses available in range set")
    assert str(e.value) == f"no IP addresses available in range set: {a.rangeset}"


def _non_canonical() -> RangeSet:
    rs = RangeSet([
        Range.from_cidr("192.168.1.1/30", "192.168.1.0", "192.168.1.3"),
        Range.from_cidr("192.168.2.1/30", "192.168.2.0", "192.168.2.3"),
    ])
    with pytest.raises(ValueError):
        rs.canonicalize()  # host bits: the error is ignored, gateways stay nil
    assert rs[0].gateway is None and rs[1].gateway is None
    return rs


def test_iterator_moves_to_next_range_after_last_reserved_end():  # AL12
    a = IPAllocator(_non_canonical(), FakeStore(), "rangeid")
    a.store.reserve("ID", "eth0", ip("192.168.1.3"), a.range_id)
    it = a.get_iter()
    assert it.next() is not None
    assert it.start_ip == ip("192.168.2.0")


def test_iterator_starts_at_range_start():  # AL13
    a = IPAllocator(_non_canonical(), FakeStore(), "rangeid")
    it = a.get_iter()
    assert it.next() is not None
    assert it.start_ip == ip("192.168.1.0")


def test_duplicate_allocation_in_the_same_set_is_refused():
    a = mkalloc()
    a.get("ID", "eth0", None)
    with pytest.raises(AllocationError) as e:
        a.get("ID", "eth0", None)
    assert str(e.value) == "192.168.1.2 has been allocated to ID, duplicate allocation is not allowed"


def test_last_reserved_read_error_is_logged_not_fatal(capsys):
    class Broken(FakeStore):
        def last_reserved_ip(self, range_id):
            raise OSError("read /x/last_reserved_ip.0: is a directory")

    a = IPAllocator(rangeset("10.0.0.0/29"), Broken(), "0")
    assert a.get("ID", "eth0", None)["address"] == "10.0.0.2/29"
    err = capsys.readouterr().err
    assert "Error retrieving last reserved ip: read /x/last_reserved_ip.0: is a directory" in err


def test_iterator_gateway_in_the_middle_is_skipped():
    rs = rangeset("10.0.0.0/29")
    rs[0].gateway = ip("10.0.0.4")
    it = RangeIter(rs, None)
    got = [ip_text(x[0]) for x in it]
    assert got == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.5", "10.0.0.6"]


def test_full_wide_range_does_not_scan():
    """A /64 with many addresses taken after the cursor: candidates are tried one by one, lazily."""
    rs = rangeset("2001:db8::/64")
    taken = {f"2001:db8::{i:x}": "x" for i in range(2, 2002)}
    a = IPAllocator(rs, FakeStore(taken), "0")
    assert a.get("ID", "eth0", None)["address"] == "2001:db8::7d2/64"
