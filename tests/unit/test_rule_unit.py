"""pycni.linux.rule: fib rule messages as the Go netlink library builds them (no root, no kernel)."""

from __future__ import annotations

import struct
import sys
from socket import AF_INET, AF_INET6

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycni.linux import rule
from pycni.netlink import codec as c

little_endian = pytest.mark.skipif(sys.byteorder != "little", reason="layouts below are written little-endian")


def _hdr(msg: bytes) -> tuple[int, ...]:
    return struct.unpack_from("=BBBBBBBBI", msg)


def test_sbr_rule_layout() -> None:
    msg = rule.pack_rule(rule.host_source("192.0.2.100", 100))
    # family, dst_len, src_len, tos, table, res1 (RTPROT_BOOT), res2, action (to table), flags
    assert _hdr(msg) == (AF_INET, 0, 32, 0, 100, c.RTPROT_BOOT, 0, rule.FR_ACT_TO_TBL, 0)
    attrs = c.parse_attrs(msg, rule.HDR_LEN)
    # no priority (the kernel picks one), no FRA_TABLE for tables < 256
    assert attrs == [(rule.FRA_SRC, bytes([192, 0, 2, 100]))]


@little_endian
def test_large_table_and_priority_attributes() -> None:
    r = rule.from_source("fd00::5/128", 1000, priority=42)
    msg = rule.pack_rule(r)
    assert _hdr(msg)[:5] == (AF_INET6, 0, 128, 0, 0)
    attrs = dict(c.parse_attrs(msg, rule.HDR_LEN))
    assert attrs[rule.FRA_PRIORITY] == struct.pack("=I", 42)
    assert attrs[rule.FRA_TABLE] == struct.pack("=I", 1000)


def test_delete_keeps_the_given_action() -> None:
    r = rule.Rule(family=AF_INET, table=100, action=rule.FR_ACT_UNSPEC)
    assert _hdr(rule.pack_rule(r, create=False))[7] == rule.FR_ACT_UNSPEC
    assert _hdr(rule.pack_rule(r, create=True))[7] == rule.FR_ACT_TO_TBL


def test_mixed_families_are_rejected() -> None:
    r = rule.Rule(src="10.0.0.1", src_len=32, dst="fd00::1", dst_len=128, table=5)
    with pytest.raises(ValueError, match="same IP family"):
        rule.pack_rule(r)


def test_unpack_defaults_priority_zero() -> None:
    # the kernel omits FRA_PRIORITY for the preference-0 `lookup local` rule
    r = rule.unpack_rule(struct.pack("=BBBBBBBBI", AF_INET, 0, 0, 0, 255, 0, 0, 1, 0))
    assert (r.priority, r.src, r.table) == (0, None, 255)
    with pytest.raises(c.CodecError):
        rule.unpack_rule(b"\0\0")


@given(st.ip_addresses(), st.integers(1, 2**32 - 1), st.one_of(st.none(), st.integers(1, 2**32 - 1)),
       st.sampled_from(["eth0", None]))
def test_roundtrip(ip: object, table: int, prio: int | None, iif: str | None) -> None:
    text = str(ip)
    bits = 128 if ":" in text else 32
    r = rule.from_source(f"{text}/{bits}", table, prio)
    r.iifname = iif
    back = rule.unpack_rule(rule.pack_rule(r))
    assert (back.family, back.src, back.src_len, back.table, back.priority, back.iifname) == (
        r.family, c.canonical_ip(text), bits, table, prio or 0, iif)
