"""DHCPv4 on the wire, pure: the BOOTP message with its options (RFC 2131/2132), the IPv4+UDP framing an AF_PACKET
SOCK_DGRAM socket needs, the messages the client sends, and the options the result is built from (1, 3, 33, 51,
54, 58, 59, 121). No sockets, no clocks, no randomness here (callers pass xids in)."""

from __future__ import annotations

import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

BOOTREQUEST, BOOTREPLY = 1, 2
CLIENT_PORT, SERVER_PORT = 68, 67
MAGIC = b"\x63\x82\x53\x63"
MIN_LEN = 300  # nclient4 pads every message to 300 bytes
FLAG_BROADCAST = 0x8000
BROADCAST_MAC = b"\xff" * 6

# message types (option 53)
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
TYPE_NAMES = {DISCOVER: "DHCPDISCOVER", OFFER: "DHCPOFFER", REQUEST: "DHCPREQUEST", DECLINE: "DHCPDECLINE",
              ACK: "DHCPACK", NAK: "DHCPNAK", RELEASE: "DHCPRELEASE", INFORM: "DHCPINFORM"}

# option codes
PAD, END = 0, 255
OPT_SUBNET_MASK, OPT_ROUTER, OPT_DNS, OPT_HOSTNAME, OPT_DOMAIN = 1, 3, 6, 12, 15
OPT_STATIC_ROUTES = 33
OPT_REQUESTED_IP, OPT_LEASE_TIME, OPT_OVERLOAD, OPT_MSG_TYPE, OPT_SERVER_ID, OPT_PRL = 50, 51, 52, 53, 54, 55
OPT_MESSAGE, OPT_MAX_SIZE, OPT_T1, OPT_T2, OPT_CLIENT_ID = 56, 57, 58, 59, 61
OPT_RELAY_AGENT = 82
OPT_CLASSLESS_ROUTES = 121

DEFAULT_PRL = bytes((OPT_SUBNET_MASK, OPT_ROUTER, OPT_DOMAIN, OPT_DNS))  # nclient4's own list
MAX_MESSAGE_SIZE = 1500

_HDR = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")  # 236 bytes, then the magic cookie


class PacketError(ValueError):
    """A message that is not a well-formed DHCPv4 message."""


def ip_bytes(text: str) -> bytes:
    """Dotted quad -> 4 bytes (ValueError otherwise)."""
    parts = text.split(".")
    if len(parts) != 4:
        raise ValueError(f"not an IPv4 address: {text!r}")
    out = bytes(int(p) for p in parts if p.isdigit() and len(p) <= 3 and int(p) < 256)
    if len(out) != 4:
        raise ValueError(f"not an IPv4 address: {text!r}")
    return out


def ip_text(b: bytes) -> str:
    return ".".join(str(x) for x in b[:4])


def mac_bytes(text: str) -> bytes:
    return bytes(int(p, 16) for p in text.split(":"))


def mask_prefix(mask: bytes) -> int | None:
    """The prefix length of a contiguous mask, None when it is not contiguous."""
    n = int.from_bytes(mask, "big")
    bits = len(mask) * 8
    plen = n.bit_count()
    return plen if n == ((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1) else None


class Message:
    """A BOOTP/DHCP message. `options` maps code -> value bytes (repeated codes concatenated, RFC 3396)."""

    __slots__ = (
        "chaddr",
        "ciaddr",
        "file",
        "flags",
        "giaddr",
        "hlen",
        "hops",
        "htype",
        "op",
        "options",
        "secs",
        "siaddr",
        "sname",
        "xid",
        "yiaddr",
    )

    def __init__(self, op: int = BOOTREQUEST, xid: int = 0, chaddr: bytes = b"", *, flags: int = 0,
                 ciaddr: bytes = b"\0\0\0\0", yiaddr: bytes = b"\0\0\0\0", siaddr: bytes = b"\0\0\0\0",
                 giaddr: bytes = b"\0\0\0\0", options: dict[int, bytes] | None = None) -> None:
        self.op, self.htype, self.hlen, self.hops = op, 1, len(chaddr) or 6, 0
        self.xid, self.secs, self.flags = xid, 0, flags
        self.ciaddr, self.yiaddr, self.siaddr, self.giaddr = ciaddr, yiaddr, siaddr, giaddr
        self.chaddr, self.sname, self.file = chaddr, b"", b""
        self.options: dict[int, bytes] = dict(options or {})

    @property
    def msg_type(self) -> int | None:
        v = self.options.get(OPT_MSG_TYPE)
        return v[0] if v and len(v) == 1 else None

    def opt(self, code: int) -> bytes | None:
        return self.options.get(code)

    def encode(self) -> bytes:
        """Header, cookie, options in ascending code order (82 last, as nclient4), End, zero pad to 300."""
        head = _HDR.pack(self.op, self.htype, self.hlen, self.hops, self.xid, self.secs, self.flags,
                         self.ciaddr, self.yiaddr, self.siaddr, self.giaddr, self.chaddr, self.sname, self.file)
        out = bytearray(head + MAGIC)
        codes = sorted(c for c in self.options if c not in (PAD, END, OPT_RELAY_AGENT))
        if OPT_RELAY_AGENT in self.options:
            codes.append(OPT_RELAY_AGENT)
        for code in codes:
            out += encode_option(code, self.options[code])
        out.append(END)
        if len(out) < MIN_LEN:
            out += bytes(MIN_LEN - len(out))
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes) -> Message:
        if len(data) < _HDR.size + 4:
            raise PacketError(f"message too short: {len(data)} bytes")
        f = _HDR.unpack_from(data)
        if data[_HDR.size:_HDR.size + 4] != MAGIC:
            raise PacketError("bad magic cookie")
        m = cls.__new__(cls)
        (m.op, m.htype, m.hlen, m.hops, m.xid, m.secs, m.flags, m.ciaddr, m.yiaddr, m.siaddr, m.giaddr, chaddr,
         sname, file) = f
        m.chaddr = chaddr[:min(m.hlen, 16)]
        m.options = {}
        decode_options(data[_HDR.size + 4:], m.options)
        overload = m.options.get(OPT_OVERLOAD)
        if overload and overload[0] & 1:
            decode_options(file, m.options)
            file = b""
        if overload and overload[0] & 2:
            decode_options(sname, m.options)
            sname = b""
        m.sname, m.file = sname.rstrip(b"\0"), file.rstrip(b"\0")
        return m

    def __repr__(self) -> str:
        t = TYPE_NAMES.get(self.msg_type or 0, str(self.msg_type))
        return f"<{t} xid={self.xid:#x} yiaddr={ip_text(self.yiaddr)} opts={sorted(self.options)}>"


def encode_option(code: int, value: bytes) -> bytes:
    """One option; a value over 255 bytes is split into several instances (RFC 3396)."""
    if not value:
        return bytes((code, 0))
    out = bytearray()
    for i in range(0, len(value), 255):
        chunk = value[i:i + 255]
        out += bytes((code, len(chunk))) + chunk
    return bytes(out)


def decode_options(buf: bytes, into: dict[int, bytes]) -> None:
    i, n = 0, len(buf)
    while i < n:
        code = buf[i]
        if code == END:
            return
        if code == PAD:
            i += 1
            continue
        if i + 1 >= n:
            raise PacketError(f"option {code}: truncated")
        ln = buf[i + 1]
        if i + 2 + ln > n:
            raise PacketError(f"option {code}: length {ln} past the end")
        into[code] = into.get(code, b"") + buf[i + 2:i + 2 + ln]
        i += 2 + ln


# ---------------------------------------------------------------------------------------------------------------
# The client's messages (nclient4's shapes; see dhcp.md 3.3)


def base_options(msg_type: int, client_id: bytes, prl: bytes, provide: Iterable[tuple[int, bytes]]) -> dict[int, bytes]:
    """53, 57, 61 (client-id), then the provided options (each replaces the same code, so a provided 61 wins),
    then 55 from the config (an empty config list keeps nclient4's default list)."""
    opts = {OPT_MSG_TYPE: bytes((msg_type,)), OPT_MAX_SIZE: MAX_MESSAGE_SIZE.to_bytes(2, "big"),
            OPT_CLIENT_ID: client_id}
    for code, value in provide:
        opts[code] = value
    opts[OPT_PRL] = prl or DEFAULT_PRL
    return opts


def discover(xid: int, mac: bytes, client_id: bytes, prl: bytes, provide: Iterable[tuple[int, bytes]] = (),
             broadcast: bool = False) -> Message:
    return Message(BOOTREQUEST, xid, mac, flags=FLAG_BROADCAST if broadcast else 0,
                   options=base_options(DISCOVER, client_id, prl, provide))


def request_from_offer(offer: Message, mac: bytes, client_id: bytes, prl: bytes,
                       provide: Iterable[tuple[int, bytes]] = (), broadcast: bool = False) -> Message:
    """SELECTING: the OFFER's xid, option 50 = its yiaddr, option 54 copied from it."""
    opts = base_options(REQUEST, client_id, prl, provide)
    opts[OPT_REQUESTED_IP] = offer.yiaddr
    sid = offer.opt(OPT_SERVER_ID)
    if sid is not None:
        opts[OPT_SERVER_ID] = sid
    return Message(BOOTREQUEST, offer.xid, mac, flags=FLAG_BROADCAST if broadcast else 0, ciaddr=offer.ciaddr,
                   options=opts)


def renew_from_ack(ack: Message, xid: int, mac: bytes, client_id: bytes, prl: bytes,
                   provide: Iterable[tuple[int, bytes]] = (), broadcast: bool = False) -> Message:
    """RENEWING: ciaddr = the bound address, no 50/54 (RFC 2131 4.3.6)."""
    return Message(BOOTREQUEST, xid, mac, flags=FLAG_BROADCAST if broadcast else 0, ciaddr=ack.yiaddr,
                   options=base_options(REQUEST, client_id, prl, provide))


def release(ack: Message, xid: int, mac: bytes, client_id: bytes) -> Message:
    """RELEASE: ciaddr = the bound address, 54 copied, only the client-id besides (no 55/57/provided options)."""
    opts = {OPT_MSG_TYPE: bytes((RELEASE,)), OPT_CLIENT_ID: client_id}
    sid = ack.opt(OPT_SERVER_ID)
    if sid is not None:
        opts[OPT_SERVER_ID] = sid
    return Message(BOOTREQUEST, xid, mac, ciaddr=ack.yiaddr, options=opts)


def client_id_option(container_id: str, net_name: str, ifname: str) -> bytes:
    """Option 61 as HEAD: type 0x00, then `containerID/netName/ifName` cut to 254 bytes."""
    return b"\0" + f"{container_id}/{net_name}/{ifname}".encode()[:254]


def build_prl(request: Iterable[tuple[int, bool]]) -> bytes:
    """Option 55 from the config's `request` list: its codes in order, deduplicated, then Router(3) and
    SubnetMask(1) unless any entry has skipDefault."""
    codes: list[int] = []
    skip = False
    for code, skip_default in request:
        skip = skip or skip_default
        if code not in codes:
            codes.append(code)
    if not skip:
        codes += [c for c in (OPT_ROUTER, OPT_SUBNET_MASK) if c not in codes]
    return bytes(codes)


# ---------------------------------------------------------------------------------------------------------------
# IPv4 + UDP framing (AF_PACKET SOCK_DGRAM: the kernel adds the Ethernet header)


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_ip_packet(payload: bytes, src: bytes, dst: bytes, sport: int = CLIENT_PORT, dport: int = SERVER_PORT,
                  ident: int = 0) -> bytes:
    """An IPv4 datagram (TTL 64, DF clear) carrying UDP with a real checksum."""
    ulen = 8 + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, ulen)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    ucs = _csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", ucs) + udp[8:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, ident, 0, 64, 17, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
    return hdr + udp


def parse_udp_ip(packet: bytes, dport: int = CLIENT_PORT) -> bytes | None:
    """The UDP payload of an IPv4 datagram to `dport`, None for anything else (other protocol or port,
    fragments, truncated packets)."""
    if len(packet) < 28 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0x0F) * 4
    total = int.from_bytes(packet[2:4], "big")
    if ihl < 20 or total > len(packet) or total < ihl + 8 or packet[9] != 17:
        return None
    if int.from_bytes(packet[6:8], "big") & 0x3FFF:  # a fragment: DHCP replies fit one frame
        return None
    udp = packet[ihl:total]
    if int.from_bytes(udp[2:4], "big") != dport:
        return None
    ulen = int.from_bytes(udp[4:6], "big")
    if ulen < 8 or ulen > len(udp):
        return None
    # The UDP checksum is not verified: on veth and other offloading links a packet socket sees it still
    # partial (only the pseudo-header sum), as udhcpc's TP_STATUS_CSUMNOTREADY handling knows.
    return udp[8:ulen]


# ---------------------------------------------------------------------------------------------------------------
# Reading the options the result and the timers are built from


def seconds(m: Message, code: int) -> int | None:
    v = m.opt(code)
    return int.from_bytes(v, "big") if v is not None and len(v) == 4 else None


def routers(m: Message) -> list[str]:
    v = m.opt(OPT_ROUTER) or b""
    return [ip_text(v[i:i + 4]) for i in range(0, len(v) - len(v) % 4, 4)]


def subnet_mask(m: Message) -> bytes | None:
    v = m.opt(OPT_SUBNET_MASK)
    return v if v is not None and len(v) == 4 else None


def classful_prefix(first_octet: int) -> int | None:
    """net.IP.DefaultMask: A /8, B /16, C /24, D/E none."""
    if first_octet < 0x80:
        return 8
    if first_octet < 0xC0:
        return 16
    if first_octet < 0xE0:
        return 24
    return None


def static_routes(m: Message) -> list[tuple[str, int | None, str]]:
    """Option 33 as (dst, classful prefix or None, gw); the dst is left as sent (not masked), like HEAD."""
    v = m.opt(OPT_STATIC_ROUTES) or b""
    out = []
    for i in range(0, len(v) - 7, 8):
        out.append((ip_text(v[i:i + 4]), classful_prefix(v[i]), ip_text(v[i + 4:i + 8])))
    return out


def classless_routes(m: Message) -> list[tuple[str, int, str]]:
    """Option 121 (RFC 3442) as (dst, prefix, gw); an entry that runs past the end stops the parse."""
    v = m.opt(OPT_CLASSLESS_ROUTES) or b""
    out = []
    i = 0
    while i < len(v):
        width = v[i]
        if width > 32:
            break
        sig = (width + 7) // 8
        if i + 1 + sig + 4 > len(v):
            break
        dst = v[i + 1:i + 1 + sig] + bytes(4 - sig)
        gw = v[i + 1 + sig:i + 5 + sig]
        out.append((ip_text(dst), width, ip_text(gw)))
        i += 5 + sig
    return out


def encode_classless(routes: Iterable[tuple[str, int, str]]) -> bytes:
    """Option 121's value for (dst, prefix, gw) routes (for tests and fakes)."""
    out = bytearray()
    for dst, plen, gw in routes:
        sig = (plen + 7) // 8
        out += bytes((plen,)) + ip_bytes(dst)[:sig] + ip_bytes(gw)
    return bytes(out)
