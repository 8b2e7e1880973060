"""DHCPv4 and DHCPv6 wire codecs (pycni.plugins.ipam.dhcp.packet4 / client6), pure: no sockets, no root."""

from __future__ import annotations

import struct

import pytest

from pycni.plugins.ipam.dhcp import client6 as c6
from pycni.plugins.ipam.dhcp import packet4 as p4

MAC = bytes.fromhex("020000aabbcc")
CID = p4.client_id_option("cid1", "net1", "eth0")


def options_in_order(raw: bytes) -> list[int]:
    """The option codes as they appear on the wire."""
    out, i = [], 240
    while raw[i] != p4.END:
        if raw[i] == p4.PAD:
            i += 1
            continue
        out.append(raw[i])
        i += 2 + raw[i + 1]
    return out


def test_client_id_is_type_zero_then_cid_net_if_cut_to_254() -> None:
    assert CID == b"\0cid1/net1/eth0"
    long = p4.client_id_option("x" * 300, "n", "eth0")
    assert len(long) == 255 and long[0] == 0 and long[1:] == b"x" * 254


@pytest.mark.parametrize(("request_", "prl"), [
    ([], bytes([3, 1])),
    ([(121, False)], bytes([121, 3, 1])),
    ([(121, False), (3, False), (121, False)], bytes([121, 3, 1])),
    ([(121, True)], bytes([121])),
    ([(6, False), (121, True)], bytes([6, 121])),
])
def test_prl_as_head_builds_it(request_: list[tuple[int, bool]], prl: bytes) -> None:
    assert p4.build_prl(request_) == prl


def test_discover_shape() -> None:
    m = p4.discover(0x1234, MAC, CID, bytes([3, 1]), [(12, b"host")])
    raw = m.encode()
    assert len(raw) == 300
    assert raw[:4] == bytes([1, 1, 6, 0]) and raw[4:8] == bytes.fromhex("00001234")
    assert raw[10:12] == b"\0\0"  # flags: no broadcast unless asked
    assert raw[28:34] == MAC and raw[236:240] == p4.MAGIC
    assert options_in_order(raw) == [12, 53, 55, 57, 61]
    back = p4.Message.decode(raw)
    assert back.msg_type == p4.DISCOVER and back.opt(57) == b"\x05\xdc" and back.opt(61) == CID
    assert back.opt(55) == bytes([3, 1]) and back.opt(12) == b"host"
    bcast = p4.discover(1, MAC, CID, b"\x03", broadcast=True).encode()
    assert bcast[10:12] == b"\x80\x00"


def test_empty_prl_keeps_the_library_default_and_provided_61_wins() -> None:
    m = p4.discover(1, MAC, CID, b"", [(61, b"\x01mine")])
    assert m.opt(55) == p4.DEFAULT_PRL == bytes([1, 3, 15, 6])
    assert m.opt(61) == b"\x01mine"


def test_relay_agent_option_goes_last() -> None:
    m = p4.Message(options={82: b"\x01\x01a", 200: b"x", 53: b"\x01"})
    assert options_in_order(m.encode()) == [53, 200, 82]


def offer(yiaddr: str = "192.168.77.60", server: str = "192.168.77.1", xid: int = 7) -> p4.Message:
    return p4.Message(p4.BOOTREPLY, xid, MAC, yiaddr=p4.ip_bytes(yiaddr),
                      options={53: bytes([p4.OFFER]), 54: p4.ip_bytes(server), 1: p4.ip_bytes("255.255.255.0")})


def test_request_renew_release_shapes() -> None:
    o = offer()
    req = p4.request_from_offer(o, MAC, CID, b"\x03\x01", broadcast=True)
    assert req.xid == 7 and req.msg_type == p4.REQUEST and req.flags == p4.FLAG_BROADCAST
    assert req.opt(50) == o.yiaddr and req.opt(54) == p4.ip_bytes("192.168.77.1") and req.ciaddr == bytes(4)
    renew = p4.renew_from_ack(o, 9, MAC, CID, b"\x03\x01")
    assert renew.ciaddr == o.yiaddr and renew.opt(50) is None and renew.opt(54) is None and renew.xid == 9
    rel = p4.release(o, 11, MAC, CID)
    assert rel.msg_type == p4.RELEASE and rel.ciaddr == o.yiaddr
    assert sorted(rel.options) == [53, 54, 61]


def test_long_option_is_split_and_joined_again() -> None:
    value = bytes(range(256)) * 2  # 512 bytes
    raw = p4.Message(options={77: value}).encode()
    assert options_in_order(raw) == [77, 77, 77]
    assert p4.Message.decode(raw).opt(77) == value


def test_overloaded_file_and_sname_fields_are_read() -> None:
    m = p4.Message(p4.BOOTREPLY, 1, MAC, options={53: bytes([p4.ACK]), 52: b"\x03"})
    raw = bytearray(m.encode())
    raw[108:108 + 7] = bytes([3, 4, 10, 0, 0, 1, 255])  # file: router 10.0.0.1
    raw[44:44 + 7] = bytes([1, 4, 255, 0, 0, 0, 255])  # sname: mask /8
    back = p4.Message.decode(bytes(raw))
    assert p4.routers(back) == ["10.0.0.1"] and p4.subnet_mask(back) == b"\xff\0\0\0"
    assert back.file == b"" and back.sname == b""


@pytest.mark.parametrize("raw", [b"\x02" * 100, bytes(236) + b"abcd", bytes(236) + p4.MAGIC + b"\x03\x08\x01"])
def test_malformed_messages_raise_packet_error(raw: bytes) -> None:
    with pytest.raises(p4.PacketError):
        p4.Message.decode(raw)


def test_ip_udp_framing_roundtrip() -> None:
    payload = p4.discover(5, MAC, CID, b"\x03\x01").encode()
    pkt = p4.udp_ip_packet(payload, bytes(4), b"\xff" * 4)
    assert pkt[0] == 0x45 and pkt[8] == 64 and pkt[9] == 17
    assert p4._csum(pkt[:20]) == 0  # a valid header checksum sums to zero
    pseudo = pkt[12:20] + struct.pack("!BBH", 0, 17, len(pkt) - 20)
    assert p4._csum(pseudo + pkt[20:]) == 0  # and so does the UDP one
    assert p4.parse_udp_ip(pkt, dport=67) == payload
    assert p4.parse_udp_ip(pkt, dport=68) is None
    reply = p4.udp_ip_packet(b"x" * 10, p4.ip_bytes("192.168.77.1"), p4.ip_bytes("192.168.77.60"), 67, 68)
    assert p4.parse_udp_ip(reply) == b"x" * 10
    assert p4.parse_udp_ip(reply[:27]) is None
    frag = bytearray(reply)
    frag[6] = 0x20  # more fragments
    assert p4.parse_udp_ip(bytes(frag)) is None
    icmp = bytearray(reply)
    icmp[9] = 1
    assert p4.parse_udp_ip(bytes(icmp)) is None


def test_classless_routes_rfc3442() -> None:
    routes = [("0.0.0.0", 0, "10.0.0.1"), ("10.0.0.0", 8, "10.0.0.2"), ("10.20.0.0", 16, "10.0.0.3"),
              ("10.20.30.0", 24, "0.0.0.0"), ("10.20.30.40", 32, "10.0.0.5"), ("10.20.30.128", 25, "10.0.0.6")]
    value = p4.encode_classless(routes)
    assert value[:5] == bytes([0, 10, 0, 0, 1])
    assert value[5:11] == bytes([8, 10, 10, 0, 0, 2])
    m = p4.Message(options={121: value})
    assert p4.classless_routes(m) == routes
    m.options[121] = value + bytes([24, 10, 1])  # truncated tail entry is dropped
    assert p4.classless_routes(m) == routes
    m.options[121] = bytes([33, 1, 2, 3, 4, 5, 1, 2, 3, 4])
    assert p4.classless_routes(m) == []


def test_static_routes_take_classful_masks_and_keep_the_destination() -> None:
    v = b"".join(p4.ip_bytes(a) + p4.ip_bytes("192.168.1.1")
                 for a in ("10.1.2.0", "172.16.5.0", "192.168.9.0", "224.1.1.1"))
    m = p4.Message(options={33: v + b"\x01\x02"})
    assert p4.static_routes(m) == [("10.1.2.0", 8, "192.168.1.1"), ("172.16.5.0", 16, "192.168.1.1"),
                                   ("192.168.9.0", 24, "192.168.1.1"), ("224.1.1.1", None, "192.168.1.1")]


def test_routers_masks_seconds() -> None:
    m = p4.Message(options={3: p4.ip_bytes("10.0.0.1") + p4.ip_bytes("10.0.0.2") + b"\x01", 51: b"\0\0\x0e\x10",
                            1: b"\xff\xff\xff"})
    assert p4.routers(m) == ["10.0.0.1", "10.0.0.2"]
    assert p4.seconds(m, 51) == 3600 and p4.seconds(m, 58) is None
    assert p4.subnet_mask(m) is None
    assert p4.mask_prefix(b"\xff\xff\xff\x00") == 24 and p4.mask_prefix(b"\0\0\0\0") == 0
    assert p4.mask_prefix(b"\xff\x00\xff\x00") is None


@pytest.mark.parametrize("bad", ["1.2.3", "1.2.3.256", "a.b.c.d", "1.2.3.4.5", ""])
def test_ip_bytes_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        p4.ip_bytes(bad)


# -- DHCPv6 ----------------------------------------------------------------------------------------------------


def test_v6_message_and_ia_na_roundtrip() -> None:
    ia = c6.IANA(0x01020304, 60, 105, "fd77::184", 120, 180)
    m = c6.Message6(c6.REPLY, 0xABCDEF, [(c6.OPT_CLIENTID, b"\0\4" + bytes(16)), (c6.OPT_IA_NA, ia.encode())])
    raw = m.encode()
    assert raw[:4] == bytes([7, 0xAB, 0xCD, 0xEF])
    back = c6.Message6.decode(raw)
    got = c6.ia_of(back, 0x01020304)
    assert got is not None
    assert (got.t1, got.t2, got.address, got.preferred, got.valid) == (60, 105, "fd77::184", 120, 180)
    assert c6.ia_of(back, 5) is None


def test_v6_status_inside_ia_and_at_top() -> None:
    inner = struct.pack("!III", 9, 0, 0) + c6.encode_options([(c6.OPT_STATUS, b"\0\2none left")])
    m = c6.Message6(c6.ADVERTISE, 1, [(c6.OPT_IA_NA, inner), (c6.OPT_STATUS, b"\0\1oops")])
    ia = c6.ia_of(m, 9)
    assert ia is not None and ia.status == 2 and ia.status_msg == "none left" and ia.address is None
    assert c6.status_of(m) == (1, "oops")


@pytest.mark.parametrize("raw", [b"\x01\x00", b"\x01\x00\x00\x01\x00\x01\x00\x09abc", b"\x01\0\0\1\0"])
def test_v6_malformed(raw: bytes) -> None:
    with pytest.raises(c6.PacketError):
        c6.Message6.decode(raw)


def test_v6_identity_is_stable_and_distinct() -> None:
    a, b = c6.duid_for(b"c1/n/eth0"), c6.duid_for(b"c1/n/eth1")
    assert a == c6.duid_for(b"c1/n/eth0") and a != b and a[:2] == b"\0\4" and len(a) == 18
    assert c6.iaid_for(b"c1/n/eth0") == c6.iaid_for(b"c1/n/eth0") != c6.iaid_for(b"c1/n/eth1")
