"""host-local Range / RangeSet (upstream range_test.go, range_set_test.go) and pkg/ip semantics."""

from __future__ import annotations

import pytest

from pycni.plugins.ipam.host_local.config import ip_arg_text, parse_ip_arg
from pycni.plugins.ipam.host_local.range import (
    Range,
    RangeError,
    RangeIter,
    RangeSet,
    cmp,
    ip_text,
    next_ip,
    prev_ip,
)
from pycni.spec import ipnet


def ip(s: str) -> tuple[int, int]:
    v = ipnet.parse_ip(s)
    assert v is not None, s
    return v


def canon(cidr: str, start: str | None = None, end: str | None = None, gw: str | None = None) -> Range:
    r = Range.from_cidr(cidr, start, end, gw)
    r.canonicalize()
    return r


# --- R1..R8: defaults and subnet checks --------------------------------------------------------


@pytest.mark.parametrize(
    "cidr,start,end,gw",
    [
        ("192.0.2.0/24", "192.0.2.1", "192.0.2.254", "192.0.2.1"),  # R1
        ("192.0.2.0/25", "192.0.2.1", "192.0.2.126", "192.0.2.1"),  # R2
        ("2001:DB8:1::/64", "2001:db8:1::1", "2001:db8:1::ffff:ffff:ffff:ffff", "2001:db8:1::1"),  # R7
        ("2001:db8::/126", "2001:db8::1", "2001:db8::3", "2001:db8::1"),  # §3.3: v6 end is all-ones
        ("10.0.0.0/30", "10.0.0.1", "10.0.0.2", "10.0.0.1"),
    ],
)
def test_canonicalize_fills_in_start_end_and_gateway(cidr, start, end, gw):
    r = canon(cidr)
    assert (r.start, r.end, r.gateway) == (ip(start), ip(end), ip(gw))
    assert r.subnet == ipnet.parse_cidr(cidr)[0]


@pytest.mark.parametrize(
    "cidr,msg",
    [
        ("192.0.2.12/24", "Network has host bits set. For a subnet mask of length 24 the network address is 192.0.2.0"),
        ("2001:DB8:1::24:19ff:fee1:c44a/64",
         "Network has host bits set. For a subnet mask of length 64 the network address is 2001:db8:1::"),
        ("2001:DB8:24:19ff::/63",
         "Network has host bits set. For a subnet mask of length 63 the network address is 2001:db8:24:19fe::"),
        ("192.168.127.0/23",
         "Network has host bits set. For a subnet mask of length 23 the network address is 192.168.126.0"),
        ("192.0.2.0/31", "Network 192.0.2.0/31 too small to allocate from"),
        ("192.0.2.1/32", "Network 192.0.2.1/32 too small to allocate from"),
        ("2001:db8::/127", "Network 2001:db8::/127 too small to allocate from"),
        ("2001:db8::/128", "Network 2001:db8::/128 too small to allocate from"),
        ("::ffff:10.0.0.0/120", "IPNet IP and Mask version mismatch"),
        ("::ffff:10.0.0.0/127", "Network 10.0.0.0/31 too small to allocate from"),
    ],
)
def test_canonicalize_rejects_bad_subnets(cidr, msg):
    with pytest.raises(RangeError) as e:
        canon(cidr)
    assert str(e.value) == msg


def test_missing_subnet_is_nil_ip():
    with pytest.raises(RangeError, match=r"^IP <nil> not v4 nor v6$"):
        Range().canonicalize()


@pytest.mark.parametrize(
    "start,end,msg",
    [
        ("192.0.3.0", None, "RangeStart 192.0.3.0 not in network 192.0.2.0/24"),  # R9a
        (None, "192.0.4.0", "RangeEnd 192.0.4.0 not in network 192.0.2.0/24"),  # R9b
        ("192.0.2.50", "192.0.2.40", "RangeStart 192.0.2.50 not in network 192.0.2.0/24"),  # R9c
        ("2001:db8::1", None, "RangeStart 2001:db8::1 not in network 192.0.2.0/24"),
        (None, "2001:db8::1", "RangeEnd 2001:db8::1 not in network 192.0.2.0/24"),
    ],
)
def test_range_bounds_must_be_in_the_subnet(start, end, msg):
    with pytest.raises(RangeError) as e:
        canon("192.0.2.0/24", start, end)
    assert str(e.value) == msg


def test_given_bounds_and_gateway_are_kept():  # R10
    r = canon("192.0.2.0/24", "192.0.2.40", "192.0.2.50", "192.0.2.254")
    assert (r.start, r.end, r.gateway) == (ip("192.0.2.40"), ip("192.0.2.50"), ip("192.0.2.254"))


def test_gateway_outside_the_subnet_is_accepted():
    r = canon("10.0.0.0/24", gw="10.9.9.9")
    assert r.gateway == ip("10.9.9.9")


def test_network_address_is_accepted_as_range_start():
    r = canon("10.9.1.0/24", start="10.9.1.0")
    assert r.start == ip("10.9.1.0")


def test_contains_v4():  # R11
    r = canon("192.0.2.0/24", "192.0.2.40", "192.0.2.50", "192.0.2.254")
    got = [r.contains(ip(a)) for a in ("192.0.3.0", "192.0.2.39", "192.0.2.40", "192.0.2.50", "192.0.2.51")]
    assert got == [False, False, True, True, False]


def test_contains_v6():  # R12
    r = canon("2001:DB8:1::/64", "2001:db8:1::40", "2001:db8:1::50")
    addrs = ("2001:db8:2::", "2001:db8:1::39", "2001:db8:1::40", "2001:db8:1::50", "2001:db8:1::51")
    assert [r.contains(ip(a)) for a in addrs] == [False, False, True, True, False]


def test_contains_other_family_and_nil():
    r = canon("10.0.0.0/8")
    assert not r.contains(ip("::1"))
    assert not r.contains(None)


@pytest.mark.parametrize(
    "a,b,want",
    [
        (("10.0.0.0/24",), ("10.0.1.0/24",), False),
        (("0.0.0.0/24",), ("::/24",), False),
        (("10.0.0.0/24",), ("10.0.0.0/24",), True),
        (("10.0.0.0/20",), ("10.0.1.0/24",), True),
        (("10.0.0.0/24", None, "10.0.0.127"), ("10.0.0.0/24", "10.0.0.128"), False),
        (("10.0.0.0/24", None, "10.0.0.127"), ("10.0.0.0/24", "10.0.0.127"), True),
    ],
)
def test_overlaps_both_directions(a, b, want):  # R13
    r1, r2 = canon(*a), canon(*b)
    assert r1.overlaps(r2) is want
    assert r2.overlaps(r1) is want


def test_range_string():
    assert str(canon("10.0.0.0/29")) == "10.0.0.1-10.0.0.6"
    assert str(Range()) == "<nil>-<nil>"


def test_wide_ipv6_ranges_are_integers():
    r = canon("2001:db8::/32")
    assert r.size() == (1 << 96) - 1 - 1  # start ::1 .. all-ones, gateway ::1 excluded
    assert r.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"))
    it = RangeIter(RangeSet([r]), ip("2001:db8:ffff:ffff:ffff:ffff:ffff:fffe"))
    assert it.next()[0] == ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
    assert it.next()[0] == ip("2001:db8::2")  # wrapped lazily, gateway ::1 skipped


# --- RS1..RS3 -------------------------------------------------------------------------------------


def test_rangeset_contains_and_range_for():  # RS1
    rs = RangeSet([Range.from_cidr("192.168.0.0/24"), Range.from_cidr("172.16.1.0/24")])
    rs.canonicalize()
    assert rs.contains(ip("192.168.0.55"))
    assert rs.range_for(ip("192.168.0.55")) is rs[0]
    with pytest.raises(RangeError) as e:
        rs.range_for(ip("192.168.99.99"))
    assert str(e.value) == "192.168.99.99 not in range set 192.168.0.1-192.168.0.254,172.16.1.1-172.16.1.254"


def test_rangeset_overlap_inside_a_set():  # RS2
    rs = RangeSet([Range.from_cidr("192.168.0.0/20"), Range.from_cidr("192.168.2.0/24")])
    with pytest.raises(RangeError) as e:
        rs.canonicalize()
    assert str(e.value) == "subnets 192.168.0.1-192.168.15.254 and 192.168.2.1-192.168.2.254 overlap"


def test_rangesets_overlap_both_directions():  # RS3
    a = RangeSet([Range.from_cidr("192.168.0.0/20")])
    b = RangeSet([Range.from_cidr("192.168.2.0/24")])
    a.canonicalize()
    b.canonicalize()
    assert a.overlaps(b) and b.overlaps(a)


def test_rangeset_empty_and_mixed():
    with pytest.raises(RangeError, match="^empty range set$"):
        RangeSet().canonicalize()
    rs = RangeSet([Range.from_cidr("10.1.0.0/22"), Range.from_cidr("2001:db8:5::/64")])
    with pytest.raises(RangeError, match="^mixed address families$"):
        rs.canonicalize()


def test_rangeset_first_range_error_is_returned_bare():
    rs = RangeSet([Range.from_cidr("10.1.0.0/24"), Range.from_cidr("10.2.0.1/24")])
    with pytest.raises(RangeError) as e:
        rs.canonicalize()
    assert str(e.value).startswith("Network has host bits set")


# --- §9.9: pkg/ip NextIP / PrevIP / Cmp / Network, ip.IP parsing and text ----------------------


@pytest.mark.parametrize(
    "a,b",
    [
        ("192.168.0.1", "192.168.0.2"),
        ("192.168.0.255", "192.168.1.0"),
        ("0.1.0.5", "0.1.0.6"),
        ("AB12::123", "ab12::124"),
        ("AB12::FFFF", "ab12::1:0"),
        ("::123", "::124"),
    ],
)
def test_next_and_prev_ip(a, b):
    assert ip_text(next_ip(ip(a))) == b
    assert ip_text(prev_ip(ip(b))) == ip_text(ip(a))


def test_cmp():
    assert cmp(ip("192.168.0.2"), None) == -2
    assert cmp(ip("192.168.0.2"), ip("::1")) == -2
    assert cmp(ip("192.168.0.2"), ip("192.168.0.5")) == -1
    assert cmp(ip("::ffff:192.168.0.2"), ip("192.168.0.5")) == -1  # mixed 16/4-byte forms
    assert cmp(ip("192.168.0.10"), ip("192.168.0.5")) == 1
    assert cmp(ip("192.168.0.10"), ip("::ffff:192.168.0.10")) == 0
    assert cmp(ip("2001:db8::1"), ip("2001:db8::2")) == -1
    assert cmp(ip("2001:db8::2"), ip("2001:db8::1")) == 1
    assert cmp(ip("2001:db8::1"), ip("2001:db8::1")) == 0


def test_network():
    assert ipnet.network(ip("192.168.0.100"), 24) == ip("192.168.0.0")[1]
    assert ipnet.network(ip("ab12::123"), 120) == ip("ab12::100")[1]


@pytest.mark.parametrize(
    "text,want",
    [
        ("192.168.0.10", "192.168.0.10"),
        ("2001:db8::1", "2001:db8::1"),
        ("192.168.0.10/24", "192.168.0.10/24"),
        ("2001:db8::1/64", "2001:db8::1/64"),
    ],
)
def test_ip_arg_parse_and_string(text, want):
    assert ip_arg_text(parse_ip_arg(text)) == want


@pytest.mark.parametrize("text", ["invalid", "192.168.0.1000", "2001:db8::1/256", "test", "", "10.0.0.1/"])
def test_ip_arg_invalid(text):
    assert parse_ip_arg(text) is None


def test_ip_arg_empty_string_prints_nil():
    assert ip_arg_text(None) == "<nil>"
