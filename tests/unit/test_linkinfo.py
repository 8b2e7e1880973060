"""linkinfo payload builders and parsers, and tuntap's ifreq/ioctl layer: pure, no root.

The byte-exact expectations are what the reference's netlink library sends for the same links (attribute order
IFLA_LINK, IFLA_IFNAME, IFLA_MTU, IFLA_ADDRESS, IFLA_NET_NS_FD, IFLA_LINKINFO; IFLA_INFO_KIND without a NUL).
"""

from __future__ import annotations

import errno
import struct
import sys

import pytest

from pycni.linux import linkinfo, tuntap
from pycni.netlink import codec as c

LE = pytest.mark.skipif(sys.byteorder != "little", reason="expected bytes are written for little-endian hosts")


def attrs(payload: bytes) -> list[tuple[int, bytes]]:
    return c.parse_attrs(payload, c.IFINFOMSG_LEN)


def nested(value: bytes) -> dict[int, bytes]:
    return dict(c.parse_attrs(value))


@LE
def test_macvlan_payload_bytes() -> None:
    got = linkinfo.macvlan_payload("veth1234abcd", 7, linkinfo.MACVLAN_MODE_BRIDGE, mtu=1400, ns_fd=9)
    want = (bytes(16)
            + bytes.fromhex("0800050007000000")
            + bytes.fromhex("11000300") + b"veth1234abcd\0" + bytes(3)
            + bytes.fromhex("0800040078050000")
            + bytes.fromhex("08001c0009000000")
            + bytes.fromhex("1c001280") + bytes.fromhex("0b000100") + b"macvlan" + bytes(1)
            + bytes.fromhex("0c000280") + bytes.fromhex("0800010004000000"))
    assert got == want


@LE
def test_dummy_payload_bytes() -> None:
    assert linkinfo.dummy_payload("eth0") == (bytes(16) + bytes.fromhex("09000300") + b"eth0\0" + bytes(3)
                                              + bytes.fromhex("10001280") + bytes.fromhex("09000100") + b"dummy"
                                              + bytes(3))


def test_macvlan_payload_mac_and_bcqueuelen() -> None:
    p = linkinfo.macvlan_payload("t", 3, linkinfo.MACVLAN_MODE_PASSTHRU, mac="0a:58:00:00:00:01", bcqueuelen=77)
    a = attrs(p)
    assert [t for t, _ in a] == [c.IFLA_LINK, c.IFLA_IFNAME, c.IFLA_ADDRESS, c.IFLA_LINKINFO]
    assert dict(a)[c.IFLA_ADDRESS] == bytes.fromhex("0a5800000001")
    data = nested(nested(dict(a)[c.IFLA_LINKINFO])[c.IFLA_INFO_DATA])
    assert data == {linkinfo.IFLA_MACVLAN_MODE: struct.pack("=I", 8), linkinfo.IFLA_MACVLAN_BC_QUEUE_LEN: struct.pack("=I", 77)}


@pytest.mark.parametrize("mode", [linkinfo.IPVLAN_MODE_L2, linkinfo.IPVLAN_MODE_L3, linkinfo.IPVLAN_MODE_L3S])
def test_ipvlan_payload(mode: int) -> None:
    p = linkinfo.ipvlan_payload("veth00000000", 4, mode, mtu=1450, ns_fd=11)
    a = attrs(p)
    assert [t for t, _ in a] == [c.IFLA_LINK, c.IFLA_IFNAME, c.IFLA_MTU, c.IFLA_NET_NS_FD, c.IFLA_LINKINFO]
    info = nested(dict(a)[c.IFLA_LINKINFO])
    assert info[c.IFLA_INFO_KIND] == b"ipvlan"
    # mode and flag (0 = bridge) are both u16, in that order
    assert c.parse_attrs(info[c.IFLA_INFO_DATA]) == [(linkinfo.IFLA_IPVLAN_MODE, struct.pack("=H", mode)),
                                                    (linkinfo.IFLA_IPVLAN_FLAG, struct.pack("=H", 0))]


def test_vlan_payload() -> None:
    p = linkinfo.vlan_payload("veth00000000", 4, 100, ns_fd=11)
    a = attrs(p)
    assert [t for t, _ in a] == [c.IFLA_LINK, c.IFLA_IFNAME, c.IFLA_NET_NS_FD, c.IFLA_LINKINFO]
    info = nested(dict(a)[c.IFLA_LINKINFO])
    assert info[c.IFLA_INFO_KIND] == b"vlan"
    # the id (u16) and struct ifla_vlan_flags {0, 0}; no IFLA_VLAN_PROTOCOL (kernel default 802.1Q)
    assert c.parse_attrs(info[c.IFLA_INFO_DATA]) == [(linkinfo.IFLA_VLAN_ID, struct.pack("=H", 100)),
                                                    (linkinfo.IFLA_VLAN_FLAGS, bytes(8))]


def test_linkinfo_is_flagged_nested() -> None:
    p = linkinfo.dummy_payload("d")
    (_len, atype), = [struct.unpack_from("=HH", p, c.IFINFOMSG_LEN + 8)]
    assert atype == c.IFLA_LINKINFO | c.NLA_F_NESTED


def test_alias_and_set_attrs_payloads() -> None:
    assert linkinfo.alias_payload(5, "hd0") == c.pack_ifinfomsg(index=5) + c.pack_attr(c.IFLA_IFALIAS, b"hd0")
    assert linkinfo.alias_payload(5, "") == c.pack_ifinfomsg(index=5) + c.pack_attr(c.IFLA_IFALIAS, b"")
    p = linkinfo.set_attrs_payload(6, mtu=1300, mac="0a:00:00:00:00:01")
    assert attrs(p) == [(c.IFLA_MTU, struct.pack("=I", 1300)), (c.IFLA_ADDRESS, bytes.fromhex("0a0000000001"))]
    assert linkinfo.set_attrs_payload(6) == c.pack_ifinfomsg(index=6)


def test_bad_mac_is_refused_before_sending() -> None:
    with pytest.raises(c.MACError, match="^address zz: invalid MAC address$"):
        linkinfo.macvlan_payload("t", 1, 4, mac="zz")


def test_info_data_roundtrip() -> None:
    kind, data = linkinfo.info_data(linkinfo.vlan_payload("v", 2, 42))
    assert kind == "vlan" and linkinfo.u16(data, linkinfo.IFLA_VLAN_ID) == 42
    assert linkinfo.info_data(c.pack_ifinfomsg()) == (None, {})
    assert linkinfo.u32({}, 1) is None and linkinfo.u16({1: b"\x01"}, 1) is None


def test_fd_path() -> None:
    assert linkinfo.fd_path(7) == "/proc/self/fd/7"


# --- tuntap ----------------------------------------------------------------------------------------------------


def test_ioctl_numbers_match_linux_if_tun_h() -> None:
    import os

    if os.uname().machine.startswith(("ppc", "powerpc", "mips", "sparc")):
        pytest.skip("values below are for the common _IOC layout")
    assert (tuntap.TUNSETIFF, tuntap.TUNSETPERSIST, tuntap.TUNSETOWNER, tuntap.TUNSETGROUP) == \
        (0x400454CA, 0x400454CB, 0x400454CC, 0x400454CE)


def test_ifreq_layout() -> None:
    req = tuntap.ifreq("tap0", tuntap.IFF_TAP | tuntap.IFF_NO_PI)
    assert len(req) == 40
    assert req[:16] == b"tap0" + bytes(12)
    assert struct.unpack_from("=H", req, 16)[0] == 0x1002
    with pytest.raises(ValueError):
        tuntap.ifreq("x" * 16, 0)


def test_tap_flags() -> None:
    assert tuntap.tap_flags(vnet_hdr=True, no_pi=False, multi_queue=False) == 0x4002
    assert tuntap.tap_flags(vnet_hdr=False, no_pi=True, multi_queue=True) == 0x1102


class FakeIoctl:
    def __init__(self, fail: int | None = None, errno_: int = errno.EPERM) -> None:
        self.calls: list[tuple[int, object]] = []
        self.fail = fail
        self.errno = errno_

    def __call__(self, fd: int, req: int, arg: object) -> int:
        self.calls.append((req, bytes(arg) if isinstance(arg, bytearray) else arg))
        if req == self.fail:
            raise OSError(self.errno, "x")
        return 0


def test_create_ioctl_sequence(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import fcntl

    fake = FakeIoctl()
    dev = tmp_path / "tun"
    dev.write_bytes(b"")
    monkeypatch.setattr(tuntap, "TUN_DEVICE", str(dev))
    monkeypatch.setattr(fcntl, "ioctl", fake)
    assert tuntap.create("vethabc", 0x4002, owner=1000, group=100) == "vethabc"
    assert [r for r, _ in fake.calls] == [tuntap.TUNSETIFF, tuntap.TUNSETOWNER, tuntap.TUNSETGROUP,
                                          tuntap.TUNSETPERSIST]
    assert fake.calls[0][1] == tuntap.ifreq("vethabc", 0x4002)
    assert [a for _, a in fake.calls[1:]] == [1000, 100, 1]
    fake.calls.clear()
    tuntap.create("vethabc", 0x1002)  # owner/group not given: not set
    assert [r for r, _ in fake.calls] == [tuntap.TUNSETIFF, tuntap.TUNSETPERSIST]


@pytest.mark.parametrize("which,text", [
    ("TUNSETIFF", "Tuntap IOCTL TUNSETIFF failed [0], errno device or resource busy"),
    ("TUNSETOWNER", "Tuntap IOCTL TUNSETOWNER failed [0], errno device or resource busy"),
    ("TUNSETPERSIST", "Tuntap IOCTL TUNSETPERSIST failed, errno device or resource busy"),
])
def test_create_errors(monkeypatch: pytest.MonkeyPatch, tmp_path, which: str, text: str) -> None:
    import fcntl

    dev = tmp_path / "tun"
    dev.write_bytes(b"")
    monkeypatch.setattr(tuntap, "TUN_DEVICE", str(dev))
    monkeypatch.setattr(fcntl, "ioctl", FakeIoctl(getattr(tuntap, which), errno.EBUSY))
    with pytest.raises(tuntap.TuntapError) as ei:
        tuntap.create("t0", 0x4002, owner=1, group=1)
    assert str(ei.value) == text


def test_create_without_tun_device(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(tuntap, "TUN_DEVICE", str(tmp_path / "missing"))
    with pytest.raises(tuntap.TuntapError, match=r"^open .*/missing: no such file or directory$"):
        tuntap.create("t0", 2)
