"""pycni.linux.tc: TBF arithmetic, qdisc/filter/action message building and parsing (no root, no kernel).

Reference values: the Debian 1.1.1 bandwidth plugin observed on this machine (/proc/net/psched
"000003e8 00000040 000f4240 3b9aca00"): 1 Mbit/s with an 80 kbit burst became `tbf rate 125000 burst 10000 lat 25ms`.
"""

from __future__ import annotations

import struct
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycni.linux import tc
from pycni.netlink import codec as c

PSCHED = "000003e8 00000040 000f4240 3b9aca00\n"
TICK = 15.625
little_endian = pytest.mark.skipif(sys.byteorder != "little", reason="layouts below are written little-endian")


def test_tick_in_usec_from_psched() -> None:
    assert tc.tick_in_usec(PSCHED) == TICK
    # a 1 GHz clock_res is the compatibility case: t2us is replaced by us2t
    assert tc.tick_in_usec("000003e8 00000040 3b9aca00 3b9aca00") == 1000.0
    assert tc.tick_in_usec("garbage") == 0.0
    assert tc.tick_in_usec("1 2 3") == 0.0


def test_tbf_params_match_the_reference_observation() -> None:
    p = tc.tbf_params(1_000_000, 80_000, TICK)
    assert (p.rate, p.limit, p.buffer) == (125000, 13125, 1250000)
    # egress of the same scenario: 2 Mbit/s, 160 kbit
    p = tc.tbf_params(2_000_000, 160_000, TICK)
    assert (p.rate, p.limit, p.buffer) == (250000, 26250, 1250000)
    # the buffer in µs is truncated before the tick conversion, as the Go code does
    p = tc.tbf_params(3_000_000, 10_000, TICK)
    assert p.buffer == int(int(1250 * 1e6 / 375000) * TICK)


def test_tbf_rate_below_one_byte_per_second_is_rejected() -> None:
    with pytest.raises(ValueError, match="invalid rate: 7"):
        tc.tbf_params(7, 8000, TICK)


@given(st.integers(8, 10**11), st.integers(8, 8 * (2**32 - 2)))
def test_tbf_params_stay_in_uint32(rate: int, burst: int) -> None:
    p = tc.tbf_params(rate, burst, TICK)
    assert p.rate == rate // 8
    assert 0 <= p.limit <= 0xFFFFFFFF and 0 <= p.buffer <= 0xFFFFFFFF


def test_handles() -> None:
    assert tc.handle(1, 0) == 0x10000
    assert tc.handle(0xFFFF, 0) == tc.INGRESS_HANDLE
    assert tc.handle_str(0x10001) == "1:1"
    assert tc.handle_str(0x10000) == "1:"
    assert tc.handle_str(tc.TC_H_ROOT) == "root"
    assert tc.handle_str(tc.TC_H_INGRESS) == "ingress"


@little_endian
def test_tbf_qdisc_layout() -> None:
    p = tc.TbfParams(125000, 13125, 1250000)
    msg = tc.pack_tbf_qdisc(7, p)
    fam, ifindex, hdl, parent, info = struct.unpack_from("=BxxxiIII", msg)
    assert (fam, ifindex, hdl, parent, info) == (0, 7, 0x10000, 0xFFFFFFFF, 0)
    attrs = c.parse_attrs(msg, tc.TCMSG_LEN)
    assert attrs[0] == (tc.TCA_KIND, b"tbf\0")
    assert attrs[1][0] == tc.TCA_OPTIONS
    (ptype, parms), = c.parse_attrs(attrs[1][1])
    assert ptype == tc.TCA_TBF_PARMS and len(parms) == 36
    rate = struct.unpack_from("=BBHhHI", parms, 0)
    assert rate == (0, 0, 0, 0, 0, 125000)
    assert struct.unpack_from("=III", parms, 24) == (13125, 1250000, 0)
    # the nest carries no NLA_F_NESTED bit (iproute2 / Go netlink style)
    assert struct.unpack_from("=HH", msg, tc.TCMSG_LEN + 8)[1] == tc.TCA_OPTIONS


def test_tbf_qdisc_roundtrip_and_rate64() -> None:
    for p in (tc.TbfParams(125000, 13125, 1250000), tc.TbfParams(5 << 32, 100, 200)):
        q = tc.unpack_qdisc(tc.pack_tbf_qdisc(3, p, 0x200000, 0x10002))
        assert (q.kind, q.ifindex, q.handle, q.parent) == ("tbf", 3, 0x200000, 0x10002)
        assert q.tbf == p


def test_ingress_qdisc() -> None:
    q = tc.unpack_qdisc(tc.pack_ingress_qdisc(4))
    assert (q.kind, q.handle, q.parent, q.options, q.tbf) == ("ingress", 0xFFFF0000, 0xFFFFFFF1, b"", None)


@little_endian
def test_htb_and_pfifo_payloads() -> None:
    msg = tc.pack_htb_qdisc(2, 2)
    assert struct.unpack_from("=BxxxiIII", msg)[1:4] == (2, 0x10000, tc.TC_H_ROOT)
    attrs = dict(c.parse_attrs(msg, tc.TCMSG_LEN))
    assert attrs[tc.TCA_KIND] == b"htb\0"
    (init_type, glob), = c.parse_attrs(attrs[tc.TCA_OPTIONS])
    assert init_type == tc.TCA_HTB_INIT and struct.unpack("=IIIII", glob) == (3, 10, 2, 0, 0)
    msg = tc.pack_htb_class(2, 0x10001, 0x10000, 125000, 1000, 1500)
    assert struct.unpack_from("=BxxxiIII", msg)[1:4] == (2, 0x10001, 0x10000)
    opts = dict(c.parse_attrs(dict(c.parse_attrs(msg, tc.TCMSG_LEN))[tc.TCA_OPTIONS]))
    parms = opts[tc.TCA_HTB_PARMS]
    assert len(parms) == 44
    assert struct.unpack_from("=I", parms, 8)[0] == 125000 and struct.unpack_from("=I", parms, 20)[0] == 125000
    assert struct.unpack_from("=IIIII", parms, 24) == (1000, 1000, 1500, 0, 0)
    assert tc.TCA_HTB_RATE64 not in opts
    # 100 Gbit/s does not fit the 32-bit fields: ~0 there and the real value in RATE64/CEIL64
    opts = dict(c.parse_attrs(dict(c.parse_attrs(tc.pack_htb_class(2, 0x10002, 0x10000, 12_500_000_000, 1),
                                                 tc.TCMSG_LEN))[tc.TCA_OPTIONS]))
    assert struct.unpack_from("=I", opts[tc.TCA_HTB_PARMS], 8)[0] == 0xFFFFFFFF
    assert struct.unpack("=Q", opts[tc.TCA_HTB_RATE64])[0] == 12_500_000_000
    assert struct.unpack("=Q", opts[tc.TCA_HTB_CEIL64])[0] == 12_500_000_000
    msg = tc.pack_pfifo_qdisc(2, 1000, 0x100000, 0x10001)
    attrs = dict(c.parse_attrs(msg, tc.TCMSG_LEN))
    assert attrs[tc.TCA_KIND] == b"pfifo\0" and attrs[tc.TCA_OPTIONS] == struct.pack("=I", 1000)


@little_endian
def test_match_all_redirect_filter_as_upstream() -> None:
    actions = [tc.Mirred(tc.TCA_EGRESS_REDIR, 9, tc.TC_ACT_STOLEN), tc.Mirred(tc.TCA_EGRESS_REDIR, 9, tc.TC_ACT_OK)]
    msg = tc.pack_u32_filter(5, tc.INGRESS_HANDLE, 1, tc.ETH_P_ALL, classid=tc.handle(1, 1), actions=actions)
    _f, ifindex, hdl, parent, info = struct.unpack_from("=BxxxiIII", msg)
    # tcm_info = prio << 16 | htons(ETH_P_ALL)
    assert (ifindex, hdl, parent, info) == (5, 0, 0xFFFF0000, (1 << 16) | 0x0300)
    f = tc.unpack_filter(msg)
    assert (f.kind, f.prio, f.protocol, f.classid) == ("u32", 1, tc.ETH_P_ALL, 0x10001)
    assert f.keys == [tc.U32Key()]  # match-all: one all-zero key
    assert f.actions == actions
    opts = dict(c.parse_attrs(msg, tc.TCMSG_LEN))[tc.TCA_OPTIONS]
    sel = dict(c.parse_attrs(opts))[tc.TCA_U32_SEL]
    assert sel[:3] == bytes([tc.TC_U32_TERMINAL, 0, 1]) and len(sel) == 16 + 16
    act = dict(c.parse_attrs(opts))[tc.TCA_U32_ACT]
    tabs = c.parse_attrs(act)
    assert [t for t, _ in tabs] == [1, 2]  # TCA_ACT_TAB numbering starts at 1
    kinds = [dict(c.parse_attrs(d))[tc.TCA_ACT_KIND] for _, d in tabs]
    assert kinds == [b"mirred\0", b"mirred\0"]


@pytest.mark.parametrize("cidr, source, proto, keys", [
    ("10.1.2.0/24", False, tc.ETH_P_IP, [(0xFFFFFF00, 0x0A010200, 16)]),
    ("10.1.2.3/24", True, tc.ETH_P_IP, [(0xFFFFFF00, 0x0A010200, 12)]),  # host bits dropped
    ("0.0.0.0/0", True, tc.ETH_P_IP, []),
    ("fd00:1::/64", False, tc.ETH_P_IPV6, [(0xFFFFFFFF, 0xFD000001, 24), (0xFFFFFFFF, 0, 28)]),
    ("fd00:1::/40", True, tc.ETH_P_IPV6, [(0xFFFFFFFF, 0xFD000001, 8), (0xFF000000, 0, 12)]),
    ("2001:db8::1/128", True, tc.ETH_P_IPV6, [(0xFFFFFFFF, 0x20010DB8, 8), (0xFFFFFFFF, 0, 12),
                                               (0xFFFFFFFF, 0, 16), (0xFFFFFFFF, 1, 20)]),
])
def test_subnet_keys(cidr: str, source: bool, proto: int, keys: list[tuple[int, int, int]]) -> None:
    got_proto, got = tc.subnet_keys(cidr, source)
    assert got_proto == proto
    assert [(k.mask, k.val, k.off) for k in got] == keys


@little_endian
def test_subnet_filter_sends_big_endian_keys() -> None:
    proto, keys = tc.subnet_keys("10.1.2.0/24", False)
    msg = tc.pack_u32_filter(5, 0x10000, 16, proto, keys=keys, classid=0x10001)
    _f, _i, _h, _p, info = struct.unpack_from("=BxxxiIII", msg)
    assert info == (16 << 16) | 0x0008  # htons(0x0800)
    opts = dict(c.parse_attrs(msg, tc.TCMSG_LEN))[tc.TCA_OPTIONS]
    sel = dict(c.parse_attrs(opts))[tc.TCA_U32_SEL]
    assert sel[16:20] == bytes.fromhex("ffffff00") and sel[20:24] == bytes.fromhex("0a010200")
    assert struct.unpack_from("=i", sel, 24)[0] == 16
    assert tc.TCA_U32_ACT not in dict(c.parse_attrs(opts))
    f = tc.unpack_filter(msg)
    assert (f.prio, f.protocol, f.classid, f.keys) == (16, tc.ETH_P_IP, 0x10001, keys)


def test_unpack_filter_without_options() -> None:
    f = tc.unpack_filter(tc.pack_tcmsg(3, 0, 0xFFFF0000, (1 << 16) | 0x0300) + c.pack_str(tc.TCA_KIND, "u32"))
    assert (f.kind, f.prio, f.protocol, f.has_selector, f.actions) == ("u32", 1, tc.ETH_P_ALL, False, [])


def test_truncated_messages_are_codec_errors() -> None:
    with pytest.raises(c.CodecError):
        tc.unpack_qdisc(b"\0" * 5)
    with pytest.raises(c.CodecError):
        tc.unpack_filter(b"\0" * 5)


def test_ifb_link_request() -> None:
    lk = c.unpack_link(tc.pack_ifb("bwp1e41921c417e", 1450))
    assert (lk.name, lk.kind, lk.mtu, lk.txqlen) == ("bwp1e41921c417e", "ifb", 1450, 0)
    assert lk.flags & c.IFF_UP and lk.change & c.IFF_UP
