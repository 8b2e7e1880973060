"""pycni.spec.ipnet: IPs and CIDRs with Go's net package semantics (ipam-inventory 0.3, 0.4)."""

from __future__ import annotations

import pytest

from pycni.spec import ipnet as N


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("10.0.0.1", "10.0.0.1"),
        ("255.255.255.255", "255.255.255.255"),
        ("::ffff:10.0.0.1", "10.0.0.1"),  # IPv4-mapped IPv6 is IPv4, as in Go
        ("::FFFF:10.0.0.1", "10.0.0.1"),
        ("3ffe:ffff:0:01ff::1", "3ffe:ffff:0:1ff::1"),
        ("3ffe:ffff:0::1", "3ffe:ffff::1"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  # the first of two equal zero runs is compressed
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  # a single zero group is not compressed
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("::1.2.3.4", "::102:304"),  # IPv4-compatible (not mapped) stays IPv6
    ],
)
def test_parse_ip_and_go_text(text: str, canonical: str) -> None:
    ip = N.parse_ip(text)
    assert ip is not None
    assert N.ip_str(ip) == canonical


def test_ipv4_mapped_input_has_family_4() -> None:
    assert N.parse_ip("::ffff:10.0.0.1") == (4, 0x0A000001)
    assert N.parse_ip("10.0.0.1") == (4, 0x0A000001)


@pytest.mark.parametrize(
    "text",
    ["010.0.0.1", "1.2.3.04", "::ffff:010.0.0.1",  # leading zeros (Go >= 1.17 rejects them)
     "fe80::1%eth0", "fe80::1%1",  # zones
     "1.2.3", "1.2.3.4.5", "256.0.0.1", " 1.2.3.4", "1.2.3.4 ", "0x1.2.3.4", "1:2:3:4:5:6:7:8:9", "", "bogus",
     "10.0.0.1/24"],
)
def test_parse_ip_rejects_what_go_rejects(text: str) -> None:
    assert N.parse_ip(text) is None


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("10.10.0.1/24", "10.10.0.1/24"),  # host bits are kept
        ("10.10.0.1/0", "10.10.0.1/0"),
        ("3ffe:ffff:0:01ff::1/64", "3ffe:ffff:0:1ff::1/64"),
        ("::ffff:10.1.1.1/120", "10.1.1.1/24"),  # mapped: the prefix counts over the last 32 bits
        ("::ffff:10.1.1.1/64", "10.1.1.1/0"),
        ("10.0.0.1/024", "10.0.0.1/24"),  # Go's dtoi takes leading zeros in the prefix
        ("10.0.0.1/0000000032", "10.0.0.1/32"),
        ("::/0", "::/0"),
    ],
)
def test_parse_cidr_keeps_host_bits_and_prints_like_go(text: str, canonical: str) -> None:
    assert N.canonical_cidr(text) == canonical


@pytest.mark.parametrize(
    "text",
    ["10.10.0.1", "10.10.0.1/", "10.10.0.1/33", "::1/129", "10.0.0.1/+24", "10.0.0.1/-1", "10.0.0.1/2 4",
     "10.0.0.1/٢٤", "010.0.0.1/24", "fe80::1%eth0/64", "/24", "bogus/24", "10.0.0.1/24/1", "10.0.0.1/99999999"],
)
def test_parse_cidr_errors_are_invalid_cidr_address(text: str) -> None:
    with pytest.raises(N.CIDRError) as exc:
        N.parse_cidr(text)
    assert str(exc.value) == f"invalid CIDR address: {text}"


def test_canonical_ip_error_text() -> None:
    with pytest.raises(ValueError, match="^invalid IP address: bogus$"):
        N.canonical_ip("bogus")
    assert N.canonical_ip("::ffff:1.2.3.4") == "1.2.3.4"


@pytest.mark.parametrize(
    "net, ip, inside",
    [("10.0.0.0/24", "10.0.0.200", True), ("10.0.0.7/24", "10.0.0.1", True), ("10.0.0.0/24", "10.0.1.1", False),
     ("10.0.0.0/24", "::ffff:10.0.0.9", True), ("0.0.0.0/0", "1.2.3.4", True), ("::/0", "1.2.3.4", False),
     ("2001:db8::/64", "2001:db8::5", True), ("2001:db8::/64", "2001:db9::5", False)],
)
def test_contains_is_go_ipnet_contains(net: str, ip: str, inside: bool) -> None:
    nip, plen = N.parse_cidr(net)
    got = N.parse_ip(ip)
    assert got is not None
    assert N.contains(nip, plen, got) is inside


def test_network_clears_host_bits() -> None:
    ip, plen = N.parse_cidr("10.10.7.9/16")
    assert N.network(ip, plen) == 0x0A0A0000
    ip, plen = N.parse_cidr("10.10.7.9/0")
    assert N.network(ip, plen) == 0


@pytest.mark.parametrize(
    "ip, mask, text",
    [
        ("10.0.0.5", "ffffff00", "10.0.0.5/24"),
        ("10.0.0.5", "ff00ff00", "10.0.0.5/ff00ff00"),  # a non-prefix mask prints in hex
        ("10.0.0.5", "ffffffffffffffffffffffffffff0000", "10.0.0.5/16"),  # 16-byte mask on IPv4: last 4 bytes
        ("10.0.0.5", "", "<nil>"),  # no mask
        ("2001:db8::1", "ffffff00", "<nil>"),  # a 4-byte mask does not fit IPv6
        ("2001:db8::1", "ffffffffffffffff0000000000000000", "2001:db8::1/64"),
    ],
)
def test_ipnet_str_is_go_ipnet_string(ip: str, mask: str, text: str) -> None:
    parsed = N.parse_ip(ip)
    assert parsed is not None
    assert N.ipnet_str(parsed, bytes.fromhex(mask) or None) == text
