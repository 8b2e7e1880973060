"""gob codec golden bytes from docs (shared/reference/dhcp.md §2.4, captured from Go binaries); no root needed."""

from __future__ import annotations

import pytest

from pycni.plugins.ipam.dhcp import gob
from pycni.plugins.ipam.dhcp.gob import (
    BYTES,
    STRING,
    UINT,
    Decoder,
    Encoder,
    GobError,
    Slice,
    Struct,
)
from pycni.plugins.ipam.dhcp.rpc import split_message
from pycni.plugins.ipam.dhcp.wire import (
    EMPTY,
    REQUEST,
    RESPONSE,
    RESULT,
    gob_to_result,
    result_to_gob,
)


def s(text: str) -> bytes:
    """A length-prefixed string as gob writes it."""
    b = text.encode()
    return bytes([len(b)]) + b


# The Debian 1.1.1 exec's CmdArgs (6 fields; HEAD adds NetnsOverride before StdinData).
CMD_ARGS_111 = Struct("CmdArgs", [("ContainerID", STRING), ("Netns", STRING), ("IfName", STRING), ("Args", STRING),
                                  ("Path", STRING), ("StdinData", BYTES)])
STDIN = b'{"name":"n","ipam":{"daemonSocketPath":"/run/d.sock"}}'

RELEASE_REQUEST = (
    bytes.fromhex("2fff8103010107") + b"Request" + bytes.fromhex("01ff8200") + bytes.fromhex("0102")
    + b"\x01" + s("ServiceMethod") + b"\x01\x0c\x00" + b"\x01" + s("Seq") + b"\x01\x06\x00" + b"\x00\x00"
    + bytes.fromhex("11ff82") + b"\x01" + s("DHCP.Release") + b"\x00"
    + bytes.fromhex("5aff8303010107") + b"CmdArgs" + bytes.fromhex("01ff84000106")
    + b"\x01" + s("ContainerID") + b"\x01\x0c\x00" + b"\x01" + s("Netns") + b"\x01\x0c\x00"
    + b"\x01" + s("IfName") + b"\x01\x0c\x00" + b"\x01" + s("Args") + b"\x01\x0c\x00"
    + b"\x01" + s("Path") + b"\x01\x0c\x00" + b"\x01" + s("StdinData") + b"\x01\x0a\x00" + b"\x00\x00"
    + bytes.fromhex("56ff84") + b"\x01" + s("c1") + b"\x01" + s("/") + b"\x01" + s("eth0") + b"\x02" + s("/opt/cni/bin")
    + b"\x01" + s(STDIN.decode()) + b"\x00"
)

RELEASE_REPLY = (
    bytes.fromhex("3aff8103010108") + b"Response" + bytes.fromhex("01ff8200010301") + s("ServiceMethod")
    + b"\x01\x0c\x00" + b"\x01" + s("Seq") + b"\x01\x06\x00" + b"\x01" + s("Error") + b"\x01\x0c\x00" + b"\x00\x00"
    + bytes.fromhex("11ff82") + b"\x01" + s("DHCP.Release") + b"\x00"
    + bytes.fromhex("0aff83030102ff84000000") + bytes.fromhex("03ff8400")
)

ERROR_HEADER = bytes.fromhex("21ff82") + b"\x01" + s("DHCP.Allocate") + b"\x02" + s("no more tries") + b"\x00"

# The Allocate reply value (type id 66 = Result in that stream), without its definitions.
ALLOCATE_VALUE = bytes.fromhex(
    "4f ff 84"
    " 03 01"  # delta 3 -> IPs, 1 element
    " 02 01 04 0a 01 02 03 01 04 ff ff ff 00 00"  # Address 10.1.2.3/24
    " 01 04 0a 01 02 01 00"  # Gateway 10.1.2.1
    " 01 02"  # Routes, 2 elements
    " 01 01 04 c0 a8 00 00 01 04 ff ff 00 00 00"  # Dst 192.168.0.0/16
    " 01 04 00 00 00 00 03 ff c8 02 fe 01 fa 00"  # GW 0.0.0.0, Priority 100, Scope 253
    " 01 01 04 00 00 00 00 01 04 00 00 00 00 00 01 04 0a 01 02 01 00"  # 0.0.0.0/0 via 10.1.2.1
    " 01 00"  # DNS, empty
    " 00"
)


def messages(data: bytes) -> list[bytes]:
    out = []
    while data:
        got = split_message(data)
        assert got is not None
        body, used = got
        out.append(body)
        data = data[used:]
    return out


def test_uint_and_int_encodings() -> None:
    for v, want in ((0, "00"), (127, "7f"), (128, "ff80"), (256, "fe0100")):
        out = bytearray()
        gob.put_uint(out, v)
        assert out.hex() == want
    for v, want in ((-65, "ff81"), (65, "ff82"), (100, "ffc8"), (253, "fe01fa"), (-1, "01"), (0, "00")):
        out = bytearray()
        gob.put_int(out, v)
        assert out.hex() == want
        assert gob.Reader(bytes(out)).int() == v


def test_release_request_byte_identical_to_go_exec() -> None:
    enc = Encoder()
    got = enc.encode(REQUEST, {"ServiceMethod": "DHCP.Release", "Seq": 0})
    got += enc.encode(CMD_ARGS_111, {"ContainerID": "c1", "Netns": "/", "IfName": "eth0", "Args": "",
                                     "Path": "/opt/cni/bin", "StdinData": STDIN})
    assert len(RELEASE_REQUEST) == 244
    assert got == RELEASE_REQUEST


def test_release_reply_byte_identical_to_go_daemon() -> None:
    enc = Encoder()
    got = enc.encode(RESPONSE, {"ServiceMethod": "DHCP.Release", "Seq": 0, "Error": ""}) + enc.encode(EMPTY, {})
    assert len(RELEASE_REPLY) == 92
    assert got == RELEASE_REPLY


def test_decode_release_request() -> None:
    dec = Decoder()
    values = [v for v in (dec.message(m) for m in messages(RELEASE_REQUEST)) if v is not None]
    assert values[0] == (65, {"ServiceMethod": "DHCP.Release"})
    assert values[1] == (66, {"ContainerID": "c1", "Netns": "/", "IfName": "eth0", "Path": "/opt/cni/bin",
                              "StdinData": STDIN})


def test_error_header_encodes_like_go() -> None:
    enc = Encoder()
    enc.encode(RESPONSE, {})  # definitions were sent with the first reply
    got = enc.encode(RESPONSE, {"ServiceMethod": "DHCP.Allocate", "Seq": 0, "Error": "no more tries"})
    assert got == ERROR_HEADER


def test_allocate_reply_value_matches_go_daemon() -> None:
    """Response is 65 and Result 66 in both streams, so the value message is byte-identical."""
    enc = Encoder()
    enc.encode(RESPONSE, {})  # id 65, as in the captured stream
    result = {"cniVersion": "1.1.0", "ips": [{"address": "10.1.2.3/24", "gateway": "10.1.2.1"}],
              "routes": [{"dst": "192.168.0.0/16", "gw": "0.0.0.0", "priority": 100, "scope": 253},
                         {"dst": "0.0.0.0/0", "gw": "10.1.2.1"}], "dns": {}}
    data = enc.encode(RESULT, result_to_gob(result))
    value = messages(data)[-1]
    assert value == ALLOCATE_VALUE[1:]  # the body after its length byte


def test_allocate_reply_decodes_with_go_definitions() -> None:
    # Our encoder's definitions, Go's value bytes: ids line up because both put Result right after Response.
    enc = Encoder()
    defs = enc.encode(RESPONSE, {}) + enc.encode(RESULT, {"DNS": {}})
    dec = Decoder()
    for m in messages(defs):
        dec.message(m)
    tid, v = dec.message(ALLOCATE_VALUE[1:])  # type: ignore[misc]
    assert tid == 66
    r = gob_to_result(v)
    assert r["ips"] == [{"address": "10.1.2.3/24", "gateway": "10.1.2.1"}]
    assert r["routes"] == [{"dst": "192.168.0.0/16", "gw": "0.0.0.0", "priority": 100, "scope": 253},
                           {"dst": "0.0.0.0/0", "gw": "10.1.2.1"}]


def test_unknown_fields_and_kinds_are_skipped() -> None:
    extra = Struct("X", [("A", STRING), ("M", Slice("[]uint", UINT)), ("B", BYTES)])
    enc = Encoder()
    data = enc.encode(extra, {"A": "a", "M": [1, 300], "B": b"\x00\x01"})
    dec = Decoder()
    got = [dec.message(m) for m in messages(data)]
    assert got[-1] == (65, {"A": "a", "M": [1, 300], "B": b"\x00\x01"})


def test_forward_reference_and_map() -> None:
    # A struct whose field type is defined after it, and a map value (the decoder must handle both).
    dec = Decoder()
    bodies = []
    # type 65 = struct "S" {F: 66}; type 66 = map[string]int
    b = bytearray()
    gob.put_int(b, -65)
    b += b"\x03\x01\x01" + s("S") + b"\x01"
    gob.put_int(b, 65)
    b += b"\x00\x01\x01\x01" + s("F") + b"\x01"
    gob.put_int(b, 66)
    b += b"\x00\x00\x00"
    bodies.append(bytes(b))
    b = bytearray()
    gob.put_int(b, -66)
    b += b"\x04\x01\x01" + s("map[string]int") + b"\x01"
    gob.put_int(b, 66)
    b += b"\x00\x01\x0c\x01\x04\x00\x00"
    bodies.append(bytes(b))
    b = bytearray()
    gob.put_int(b, 65)
    b += b"\x01\x01" + s("k") + b"\x04\x00"
    bodies.append(bytes(b))
    got = [dec.message(x) for x in bodies]
    assert got[-1] == (65, {"F": {"k": 2}})


def test_truncated_and_unknown_type_fail_cleanly() -> None:
    dec = Decoder()
    with pytest.raises(GobError):
        dec.message(bytes.fromhex("ff84"))  # value of an undefined type
    with pytest.raises(GobError):
        dec.message(RELEASE_REQUEST[1:20])


def test_result_round_trip_with_ipv6_and_route_fields() -> None:
    result = {"cniVersion": "1.1.0",
              "ips": [{"address": "192.168.77.60/24", "gateway": "192.168.77.1"}, {"address": "fd77::184/128"}],
              "routes": [{"dst": "10.20.0.0/16", "gw": "192.168.77.254", "mtu": 1400, "table": 100},
                         {"dst": "0.0.0.0/0", "gw": "192.168.77.1"}, {"dst": "0.0.0.0/0", "gw": "192.168.77.2"}],
              "dns": {"nameservers": ["192.168.77.1"], "search": ["example"]}}
    enc, dec = Encoder(), Decoder()
    got = [dec.message(m) for m in messages(enc.encode(RESULT, result_to_gob(result)))]
    value = got[-1][1]  # type: ignore[index]
    assert value["IPs"][1]["Address"] == {"IP": bytes.fromhex("fd77" + "00" * 12 + "0184"), "Mask": b"\xff" * 16}
    assert "CNIVersion" not in value  # as the Go daemon: the exec keeps the version it set
    assert gob_to_result(value) == result
