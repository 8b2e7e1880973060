"""firewall's firewalld backend: put each container address into a firewalld zone over the system D-Bus.

A minimal D-Bus client (stdlib only): unix-socket transport, SASL EXTERNAL, method calls whose arguments
are strings, replies made of basic types. That is all the backend needs (firewalld's zone.addSource,
removeSource, querySource and the bus's GetNameOwner). The bus address is $DBUS_SYSTEM_BUS_ADDRESS,
else the well-known system socket, as godbus' SystemBus.

Deliberate difference from upstream: CHECK fails when querySource answers false (upstream ignores the
answer, so its CHECK passes even when the address is not in the zone).
"""

from __future__ import annotations

import _socket  # socket.py would load enum and selectors: a firewall exec does not need them
import os
import struct

from pycni.gofmt import errno_text
from pycni.spec.ipnet import host_cidr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Self

DEFAULT_SYSTEM_BUS = "unix:path=/var/run/dbus/system_bus_socket"
DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
FIREWALLD_NAME = "org.fedoraproject.FirewallD1"
FIREWALLD_PATH = "/org/fedoraproject/FirewallD1"
ZONE_IFACE = "org.fedoraproject.FirewallD1.zone"
ERR_ZONE_ALREADY_SET = "ZONE_ALREADY_SET"

METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4
F_PATH, F_INTERFACE, F_MEMBER, F_ERROR_NAME = 1, 2, 3, 4
F_REPLY_SERIAL, F_DESTINATION, F_SENDER, F_SIGNATURE = 5, 6, 7, 8
_FIELD_SIG = {F_PATH: "o", F_INTERFACE: "s", F_MEMBER: "s", F_ERROR_NAME: "s", F_REPLY_SERIAL: "u",
              F_DESTINATION: "s", F_SENDER: "s", F_SIGNATURE: "g"}
_TIMEOUT = 25.0


class DBusError(ValueError):
    """An ERROR reply. str() is godbus' Error(): the first body string, else the error name."""

    def __init__(self, name: str, body: list[Any]) -> None:
        self.name = name
        self.body = body
        super().__init__(body[0] if body and isinstance(body[0], str) else name)


class DBusConnError(ValueError):
    """The bus could not be reached or spoke nonsense."""


# --- wire format ---------------------------------------------------------------------------------


_ALIGN = {"y": 1, "b": 4, "n": 2, "q": 2, "i": 4, "u": 4, "x": 8, "t": 8, "d": 8, "s": 4, "o": 4, "g": 1,
          "v": 1, "a": 4, "(": 8, "h": 4}
_FIXED = {"y": "B", "b": "I", "n": "h", "q": "H", "i": "i", "u": "I", "x": "q", "t": "Q", "d": "d", "h": "I"}


class Writer:
    """Little-endian marshalling of the basic types, variants of them and a(yv) header fields."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def align(self, n: int) -> None:
        self.buf += b"\0" * (-len(self.buf) % n)

    def put(self, sig: str, value: Any) -> None:
        self.align(_ALIGN[sig])
        if sig in _FIXED:
            self.buf += struct.pack("<" + _FIXED[sig], int(value) if sig == "b" else value)
        elif sig in ("s", "o"):
            data = value.encode()
            self.buf += struct.pack("<I", len(data)) + data + b"\0"
        elif sig == "g":
            data = value.encode()
            self.buf += bytes((len(data),)) + data + b"\0"
        else:
            raise DBusConnError(f"cannot marshal D-Bus type {sig!r}")

    def put_variant(self, sig: str, value: Any) -> None:
        self.put("g", sig)
        self.put(sig, value)


def split_signature(sig: str) -> list[str]:
    """Single complete types of a signature (basic types, arrays, structs, dicts)."""
    out, i = [], 0
    while i < len(sig):
        j = _type_end(sig, i)
        out.append(sig[i:j])
        i = j
    return out


def _type_end(sig: str, i: int) -> int:
    c = sig[i]
    if c == "a":
        return _type_end(sig, i + 1)
    if c in "({":
        close = ")" if c == "(" else "}"
        j = i + 1
        while sig[j] != close:
            j = _type_end(sig, j)
        return j + 1
    return i + 1


class Reader:
    def __init__(self, data: bytes, little: bool = True, offset: int = 0) -> None:
        self.data = data
        self.pos = offset
        self.e = "<" if little else ">"

    def align(self, n: int) -> None:
        self.pos += -self.pos % n

    def get(self, sig: str) -> Any:
        c = sig[0]
        self.align(_ALIGN[c])
        if c in _FIXED:
            fmt = self.e + _FIXED[c]
            (v,) = struct.unpack_from(fmt, self.data, self.pos)
            self.pos += struct.calcsize(fmt)
            return bool(v) if c == "b" else v
        if c in ("s", "o"):
            (n,) = struct.unpack_from(self.e + "I", self.data, self.pos)
            s = self.data[self.pos + 4:self.pos + 4 + n].decode("utf-8", "replace")
            self.pos += 4 + n + 1
            return s
        if c == "g":
            n = self.data[self.pos]
            s = self.data[self.pos + 1:self.pos + 1 + n].decode("ascii", "replace")
            self.pos += 1 + n + 1
            return s
        if c == "v":
            return self.get(self.get("g"))
        if c == "a":
            (n,) = struct.unpack_from(self.e + "I", self.data, self.pos)
            self.pos += 4
            elem = sig[1:]
            self.align(_ALIGN[elem[0]])
            end = self.pos + n
            items = []
            while self.pos < end:
                items.append(self.get(elem))
            if elem[0] == "{":
                return dict(items)
            return items
        if c in "({":
            self.align(8)
            return tuple(self.get(t) for t in split_signature(sig[1:-1]))
        raise DBusConnError(f"cannot unmarshal D-Bus type {sig!r}")


class Message:
    __slots__ = ("body", "fields", "flags", "serial", "type")

    def __init__(self, mtype: int, serial: int, fields: dict[int, Any], body: list[Any], flags: int = 0) -> None:
        self.type = mtype
        self.flags = flags
        self.serial = serial
        self.fields = fields
        self.body = body

    def pack(self) -> bytes:
        sig = self.fields.get(F_SIGNATURE, "")
        body = Writer()
        for t, v in zip(split_signature(sig), self.body):
            body.put(t, v)
        h = Writer()
        h.buf += struct.pack("<cBBBII", b"l", self.type, self.flags, 1, len(body.buf), self.serial)
        fields = Writer()
        for code in sorted(self.fields):
            fields.align(8)
            fields.put("y", code)
            fields.put_variant(_FIELD_SIG[code], self.fields[code])
        h.buf += struct.pack("<I", len(fields.buf))
        h.align(8)  # the array's first struct starts 8-aligned (offset 16 already is)
        h.buf += fields.buf
        h.align(8)
        return bytes(h.buf + body.buf)


def read_message(recv_exact: Any) -> Message:
    fixed = recv_exact(16)
    little = fixed[0:1] == b"l"
    if fixed[0:1] not in (b"l", b"B"):
        raise DBusConnError("bad D-Bus message endianness")
    e = "<" if little else ">"
    mtype, flags, _ver = fixed[1], fixed[2], fixed[3]
    body_len, serial, fields_len = struct.unpack(e + "III", fixed[4:16])
    rest_len = fields_len + (-(16 + fields_len) % 8) + body_len
    data = fixed + recv_exact(rest_len)
    r = Reader(data, little, 12)
    fields = {}
    for code, value in r.get("a(yv)"):
        fields[code] = value
    r.align(8)
    body: list[Any] = []
    sig = fields.get(F_SIGNATURE, "")
    try:
        for t in split_signature(sig):
            body.append(r.get(t))
    except (DBusConnError, struct.error, IndexError):
        pass  # not a type this client reads: the body is not needed
    return Message(mtype, serial, fields, body, flags)


# --- connection ----------------------------------------------------------------------------------


class Conn:
    """One authenticated bus connection."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.serial = 0
        self.unique_name = ""

    @classmethod
    def system_bus(cls) -> Conn:
        address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or DEFAULT_SYSTEM_BUS
        last: Exception | None = None
        for entry in address.split(";"):
            try:
                return cls.connect(entry)
            except DBusConnError as exc:
                last = exc
        raise last or DBusConnError(f"dbus: invalid bus address (no transport): {address}")

    @classmethod
    def connect(cls, address: str) -> Conn:
        transport, _, params = address.partition(":")
        kv = dict(p.split("=", 1) for p in params.split(",") if "=" in p)
        if transport != "unix" or not ({"path", "abstract"} & kv.keys()):
            raise DBusConnError(f"dbus: unsupported transport in address: {address}")
        path = kv.get("path")
        target = path if path is not None else "\0" + kv["abstract"]
        shown = path if path is not None else "@" + kv["abstract"]
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        sock.settimeout(_TIMEOUT)
        try:
            sock.connect(_unescape(target))
        except OSError as exc:
            sock.close()
            raise DBusConnError(f"dial unix {shown}: connect: {errno_text(exc)}") from None
        conn = cls(sock)
        try:
            conn._auth()
            conn.unique_name = conn.call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "Hello")[0]
        except BaseException:
            sock.close()
            raise
        return conn

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except OSError as exc:
                raise DBusConnError(f"dbus: read failed: {errno_text(exc)}") from None
            if not chunk:
                raise DBusConnError("dbus: connection closed by bus")
            buf += chunk
        return bytes(buf)

    def _readline(self) -> bytes:
        line = bytearray()
        while not line.endswith(b"\r\n"):
            line += self._recv_exact(1)
            if len(line) > 16384:
                raise DBusConnError("dbus: authentication line too long")
        return bytes(line[:-2])

    def _auth(self) -> None:
        uid = str(os.geteuid()).encode().hex()
        try:
            self.sock.sendall(b"\0AUTH EXTERNAL " + uid.encode() + b"\r\n")
            reply = self._readline()
            if not reply.startswith(b"OK"):
                raise DBusConnError("dbus: authentication failed")
            self.sock.sendall(b"BEGIN\r\n")
        except OSError as exc:
            raise DBusConnError(f"dbus: authentication failed: {errno_text(exc)}") from None

    def send(self, msg: Message) -> None:
        try:
            self.sock.sendall(msg.pack())
        except OSError as exc:
            raise DBusConnError(f"dbus: write failed: {errno_text(exc)}") from None

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def receive(self) -> Message:
        return read_message(self._recv_exact)

    def call(self, dest: str, path: str, iface: str, member: str, sig: str = "", *args: Any) -> list[Any]:
        """A method call; the reply's body values, or DBusError for an ERROR reply."""
        fields: dict[int, Any] = {F_PATH: path, F_INTERFACE: iface, F_MEMBER: member, F_DESTINATION: dest}
        if sig:
            fields[F_SIGNATURE] = sig
        serial = self.next_serial()
        self.send(Message(METHOD_CALL, serial, fields, list(args)))
        while True:
            m = self.receive()
            if m.type not in (METHOD_RETURN, ERROR) or m.fields.get(F_REPLY_SERIAL) != serial:
                continue  # signals (NameAcquired, ...) and anything else
            if m.type == ERROR:
                raise DBusError(m.fields.get(F_ERROR_NAME, ""), m.body)
            return m.body


def _unescape(s: str) -> str:
    """D-Bus address values are %-escaped."""
    if "%" not in s:
        return s
    from urllib.parse import unquote  # lazy: several ms, and bus addresses are rarely escaped

    return unquote(s)


# --- the backend ---------------------------------------------------------------------------------


def ip_string(address: str) -> str:
    ip = address.split("/")[0]
    return host_cidr(ip)


def is_firewalld_running(conn: Conn | None) -> bool:
    if conn is None:
        return False
    try:
        conn.call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetNameOwner", "s", FIREWALLD_NAME)
    except (DBusError, DBusConnError):
        return False
    return True


class FirewalldBackend:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def _call(self, member: str, zone: str, ip: str) -> list[Any]:
        return self.conn.call(FIREWALLD_NAME, FIREWALLD_PATH, ZONE_IFACE, member, "ss", zone, ip)

    def add(self, conf: dict[str, Any], result: dict[str, Any]) -> None:
        zone = conf["firewalldZone"]
        for ipc in result.get("ips") or []:
            ip = ip_string(ipc["address"])
            try:
                self._call("addSource", zone, ip)
            except (DBusError, DBusConnError) as exc:
                if ERR_ZONE_ALREADY_SET not in str(exc):
                    raise ValueError(f"failed to add the address {ip} to {zone} zone: {exc}") from None

    def delete(self, conf: dict[str, Any], result: dict[str, Any]) -> None:
        for ipc in result.get("ips") or []:
            try:
                self._call("removeSource", conf["firewalldZone"], ip_string(ipc["address"]))
            except (DBusError, DBusConnError):
                pass

    def check(self, conf: dict[str, Any], result: dict[str, Any]) -> None:
        zone = conf["firewalldZone"]
        for ipc in result.get("ips") or []:
            ip = ip_string(ipc["address"])
            try:
                answer = self._call("querySource", zone, ip)
            except (DBusError, DBusConnError):
                answer = None
            if not answer or answer[0] is not True:
                raise ValueError(f"failed to find the address {ip} in {zone} zone")

    def close(self) -> None:
        self.conn.close()
