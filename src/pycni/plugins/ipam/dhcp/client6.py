"""The DHCPv6 client (IA_NA only, RFC 8415), a pycni extension with no upstream counterpart: the message codec,
a sans-IO exchange (SOLICIT/ADVERTISE/REQUEST/REPLY, RENEW, REBIND, RELEASE) with the same resend rules as the
v4 client, the lease timers, and the UDP socket on port 546 that carries it.

Nothing here enters namespaces; the socket is opened by a caller already inside the container's netns.
"""

from __future__ import annotations

import _socket
import hashlib
import select
import struct
import zlib

from pycni.plugins.ipam.dhcp.client4 import (
    NO_MATCH,
    TRIES,
    ExchangeFailed,
    Timers,
    drive,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Self

SOLICIT, ADVERTISE, REQUEST, CONFIRM, RENEW, REBIND, REPLY, RELEASE = 1, 2, 3, 4, 5, 6, 7, 8
TYPE_NAMES = {SOLICIT: "SOLICIT", ADVERTISE: "ADVERTISE", REQUEST: "REQUEST", RENEW: "RENEW", REBIND: "REBIND",
              REPLY: "REPLY", RELEASE: "RELEASE"}
OPT_CLIENTID, OPT_SERVERID, OPT_IA_NA, OPT_IAADDR, OPT_ORO, OPT_ELAPSED = 1, 2, 3, 5, 6, 8
OPT_STATUS, OPT_RAPID_COMMIT, OPT_DNS = 13, 14, 23
STATUS_NAMES = {1: "UnspecFail", 2: "NoAddrsAvail", 3: "NoBinding", 4: "NotOnLink", 5: "UseMulticast"}
CLIENT_PORT, SERVER_PORT = 546, 547
ALL_SERVERS = "ff02::1:2"


class PacketError(ValueError):
    """Not a well-formed DHCPv6 message."""


def encode_options(opts: list[tuple[int, bytes]]) -> bytes:
    return b"".join(struct.pack("!HH", code, len(v)) + v for code, v in opts)


def decode_options(buf: bytes) -> list[tuple[int, bytes]]:
    out = []
    i = 0
    while i < len(buf):
        if i + 4 > len(buf):
            raise PacketError("truncated option header")
        code, ln = struct.unpack_from("!HH", buf, i)
        if i + 4 + ln > len(buf):
            raise PacketError(f"option {code}: length {ln} past the end")
        out.append((code, buf[i + 4:i + 4 + ln]))
        i += 4 + ln
    return out


class Message6:
    __slots__ = ("options", "type", "xid")

    def __init__(self, type: int, xid: int, options: list[tuple[int, bytes]]) -> None:
        self.type, self.xid, self.options = type, xid, options

    def opt(self, code: int) -> bytes | None:
        return next((v for c, v in self.options if c == code), None)

    def encode(self) -> bytes:
        return bytes((self.type,)) + self.xid.to_bytes(3, "big") + encode_options(self.options)

    @classmethod
    def decode(cls, data: bytes) -> Message6:
        if len(data) < 4:
            raise PacketError("message too short")
        return cls(data[0], int.from_bytes(data[1:4], "big"), decode_options(data[4:]))


class IANA:
    """An IA_NA: its IAID, T1/T2, the first address with its lifetimes, and any status."""

    __slots__ = ("address", "iaid", "preferred", "status", "status_msg", "t1", "t2", "valid")

    def __init__(self, iaid: int, t1: int = 0, t2: int = 0, address: str | None = None, preferred: int = 0,
                 valid: int = 0, status: int = 0, status_msg: str = "") -> None:
        self.iaid, self.t1, self.t2, self.address = iaid, t1, t2, address
        self.preferred, self.valid, self.status, self.status_msg = preferred, valid, status, status_msg

    def encode(self) -> bytes:
        inner = b""
        if self.address is not None:
            inner = encode_options([(OPT_IAADDR, _socket.inet_pton(_socket.AF_INET6, self.address)
                                     + struct.pack("!II", self.preferred, self.valid))])
        return struct.pack("!III", self.iaid, self.t1, self.t2) + inner

    @classmethod
    def decode(cls, v: bytes) -> IANA:
        if len(v) < 12:
            raise PacketError("IA_NA too short")
        ia = cls(*struct.unpack_from("!III", v))
        for code, sub in decode_options(v[12:]):
            if code == OPT_IAADDR and len(sub) >= 24 and ia.address is None:
                ia.address = _socket.inet_ntop(_socket.AF_INET6, sub[:16])
                ia.preferred, ia.valid = struct.unpack_from("!II", sub, 16)
                for c2, s2 in decode_options(sub[24:]):
                    if c2 == OPT_STATUS and len(s2) >= 2 and not ia.status:
                        ia.status, ia.status_msg = int.from_bytes(s2[:2], "big"), s2[2:].decode("utf-8", "replace")
            elif code == OPT_STATUS and len(sub) >= 2:
                ia.status, ia.status_msg = int.from_bytes(sub[:2], "big"), sub[2:].decode("utf-8", "replace")
        return ia


def duid_for(client_id: bytes) -> bytes:
    """DUID-UUID (type 4) derived from the v4 client identity: stable over restarts, distinct per
    container/network/interface even where interfaces share a MAC (ipvlan)."""
    return b"\x00\x04" + hashlib.md5(b"pycni-dhcpv6:" + client_id).digest()


def iaid_for(client_id: bytes) -> int:
    return zlib.crc32(client_id) & 0xFFFFFFFF


def status_of(m: Message6) -> tuple[int, str]:
    v = m.opt(OPT_STATUS)
    if v is None or len(v) < 2:
        return 0, ""
    return int.from_bytes(v[:2], "big"), v[2:].decode("utf-8", "replace")


def ia_of(m: Message6, iaid: int) -> IANA | None:
    for code, v in m.options:
        if code == OPT_IA_NA:
            ia = IANA.decode(v)
            if ia.iaid == iaid:
                return ia
    return None


def timers_from_ia(ia: IANA, now: float) -> Timers:
    """T1/T2 from the IA (0 = the client chooses: 50% / 80% of the preferred lifetime), expiry = valid."""
    valid = float(ia.valid)
    pref = float(ia.preferred or ia.valid)
    t1 = float(ia.t1) if ia.t1 else pref * 0.5
    t2 = float(ia.t2) if ia.t2 else pref * 0.8
    t2 = min(t2, valid)
    t1 = min(t1, t2)
    return Timers(now, now + t1, now + t2, now + valid)


class Exchange6:
    """One DHCPv6 exchange, sans-IO, with the v4 client's resend rule (TRIES sends, the wait doubling).
    kind: "solicit" (SOLICIT -> ADVERTISE -> REQUEST -> REPLY; a Rapid-Commit REPLY to the SOLICIT is taken too),
    "renew" / "rebind" (-> REPLY) or "release" (-> REPLY). Ends with `reply` set, or `error`."""

    def __init__(self, kind: str, xid: int, duid: bytes, iaid: int, timeout: float, bound: IANA | None = None,
                 server_id: bytes | None = None) -> None:
        self.kind, self.xid, self.duid, self.iaid, self.timeout = kind, xid, duid, iaid, timeout
        self.bound, self.server_id = bound, server_id
        self.reply: Message6 | None = None
        self.ia: IANA | None = None
        self.error: str | None = None
        self.done = False
        self.deadline = 0.0
        self._sent: Message6 | None = None
        self._tries = 0
        self._wait = timeout
        self._advertised = False

    def _msg(self, t: int, ia: IANA, server_id: bytes | None) -> Message6:
        opts = [(OPT_CLIENTID, self.duid)]
        if server_id is not None:
            opts.append((OPT_SERVERID, server_id))
        opts += [(OPT_IA_NA, ia.encode()), (OPT_ELAPSED, b"\0\0")]
        if t != RELEASE:
            opts.append((OPT_ORO, struct.pack("!H", OPT_DNS)))
        return Message6(t, self.xid, opts)

    def _send(self, m: Message6, now: float) -> Message6:
        self._sent, self._tries, self._wait = m, 1, self.timeout
        self.deadline = now + self._wait
        return m

    def start(self, now: float) -> Message6:
        if self.kind == "solicit":
            return self._send(self._msg(SOLICIT, IANA(self.iaid), None), now)
        if self.bound is None:
            raise ValueError(f"a {self.kind} needs the bound IA")
        ia = IANA(self.iaid, 0, 0, self.bound.address, 0, 0)
        t = {"renew": RENEW, "rebind": REBIND, "release": RELEASE}[self.kind]
        return self._send(self._msg(t, ia, None if t == REBIND else self.server_id), now)

    def on_timeout(self, now: float) -> Message6 | None:
        if self.done or now < self.deadline:
            return None
        if self._tries >= TRIES:
            self.done, self.error = True, NO_MATCH
            return None
        self._tries += 1
        self._wait *= 2
        self.deadline = now + self._wait
        return self._sent

    def on_message(self, m: Message6, now: float) -> Message6 | None:
        if self.done or self._sent is None or m.xid != self._sent.xid or m.opt(OPT_CLIENTID) != self.duid:
            return None
        sid = m.opt(OPT_SERVERID)
        if sid is None:
            return None
        code, text = status_of(m)
        ia = ia_of(m, self.iaid)
        if self.kind == "solicit" and not self._advertised and m.type == ADVERTISE:
            if code or ia is None or ia.status or ia.address is None:
                return None  # this server has nothing for us; wait for another
            self._advertised, self.server_id = True, sid
            return self._send(self._msg(REQUEST, IANA(self.iaid, 0, 0, ia.address, 0, 0), sid), now)
        if m.type != REPLY:
            return None
        if self.kind == "solicit" and not self._advertised and m.opt(OPT_RAPID_COMMIT) is None:
            return None
        if self.server_id is not None and self.kind != "rebind" and sid != self.server_id:
            return None
        if self.kind == "release":
            self.done, self.reply = True, m
            return None
        if code:
            self.done, self.error = True, f"server replied {STATUS_NAMES.get(code, code)}: {text}"
        elif ia is None or ia.address is None or ia.status:
            status = STATUS_NAMES.get(ia.status, ia.status) if ia is not None else "no IA_NA"
            self.done, self.error = True, f"server replied {status}: {ia.status_msg if ia else ''}".rstrip(": ")
        else:
            self.done, self.reply, self.ia, self.server_id = True, m, ia, sid
        return None


class Transport6:
    def send(self, m: Message6) -> None:
        raise NotImplementedError

    def recv(self, timeout: float) -> Message6 | None:
        raise NotImplementedError


def run_exchange6(ex: Exchange6, io: Transport6, now: Callable[[], float], deadline: float,
                  stopped: Callable[[], bool] = lambda: False) -> Exchange6:
    """Drive `ex` to its end (the same contract as client4.run_exchange)."""
    drive(ex, io.send, io.recv, now, deadline, stopped)
    if ex.error is not None:
        raise ExchangeFailed(ex.error)
    return ex


class UdpSocket6(Transport6):
    """UDP [::]:546 bound to one interface (SO_BINDTODEVICE before bind, so several interfaces of one netns
    can each run a client), sending to All_DHCP_Relay_Agents_and_Servers on that link."""

    def __init__(self, ifname: str, ifindex: int) -> None:
        self.ifindex = ifindex
        s = _socket.socket(_socket.AF_INET6, _socket.SOCK_DGRAM, 0)
        try:
            s.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            s.setsockopt(_socket.SOL_SOCKET, _socket.SO_BINDTODEVICE, ifname.encode())
            s.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_MULTICAST_IF, ifindex)
            s.bind(("::", CLIENT_PORT))
            s.setblocking(False)
        except OSError:
            s.close()
            raise
        self.sock = s

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, m: Message6) -> None:
        self.sock.sendto(m.encode(), (ALL_SERVERS, SERVER_PORT, 0, self.ifindex))

    def recv(self, timeout: float) -> Message6 | None:
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return None
        try:
            data = self.sock.recv(65535)
            return Message6.decode(data)
        except (BlockingIOError, PacketError):
            return None
