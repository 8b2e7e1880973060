"""firewall's firewalld backend and its small D-Bus client (no root; there is no firewalld on this machine).

Three layers: the wire format against known bytes; the plugin against an in-process fake bus that
plays the bus daemon and firewalld; and, when dbus-daemon is installed, the client against a real
private bus daemon (which validates every message) with a fake firewalld service on it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading

import pytest

from pycni.plugins.meta import firewall
from pycni.plugins.meta.firewall import firewalld as F
from pycni.plugins.meta.firewall import plugin as FP
from pycni.skel import run

PREV = {"cniVersion": "1.0.0", "interfaces": [{"name": "br0"}, {"name": "eth0", "sandbox": "/run/netns/c"}],
        "ips": [{"interface": 1, "address": "10.88.7.2/24"}, {"interface": 1, "address": "fd00:88:7::2/64"}]}

HELLO = (b"l\x01\x00\x01\x00\x00\x00\x00\x01\x00\x00\x00m\x00\x00\x00"
         b"\x01\x01o\x00\x15\x00\x00\x00/org/freedesktop/DBus\x00\x00\x00"
         b"\x02\x01s\x00\x14\x00\x00\x00org.freedesktop.DBus\x00\x00\x00\x00"
         b"\x03\x01s\x00\x05\x00\x00\x00Hello\x00\x00\x00"
         b"\x06\x01s\x00\x14\x00\x00\x00org.freedesktop.DBus\x00\x00\x00\x00")


# Unit tests run as root in CI: never let a real iptables/nft/conntrack call through (conftest.py).
pytestmark = pytest.mark.usefixtures("no_real_netfilter")


# --- wire format -------------------------------------------------------------------------------------


def test_hello_call_bytes_are_the_canonical_ones() -> None:
    m = F.Message(F.METHOD_CALL, 1, {F.F_PATH: F.DBUS_PATH, F.F_INTERFACE: F.DBUS_NAME, F.F_MEMBER: "Hello",
                                     F.F_DESTINATION: F.DBUS_NAME}, [])
    assert m.pack() == HELLO


def _roundtrip(m: F.Message) -> F.Message:
    data = m.pack()
    pos = [0]

    def take(n: int) -> bytes:
        chunk = data[pos[0]:pos[0] + n]
        pos[0] += n
        return chunk

    out = F.read_message(take)
    assert pos[0] == len(data)
    return out


def test_roundtrip_with_body_and_alignment() -> None:
    m = F.Message(F.METHOD_CALL, 7, {F.F_PATH: F.FIREWALLD_PATH, F.F_INTERFACE: F.ZONE_IFACE, F.F_MEMBER: "addSource",
                                     F.F_DESTINATION: F.FIREWALLD_NAME, F.F_SIGNATURE: "ss"}, ["trusted", "10.0.0.2/32"])
    out = _roundtrip(m)
    assert out.type == F.METHOD_CALL and out.serial == 7 and out.body == ["trusted", "10.0.0.2/32"]
    assert out.fields[F.F_MEMBER] == "addSource" and out.fields[F.F_SIGNATURE] == "ss"
    r = _roundtrip(F.Message(F.METHOD_RETURN, 9, {F.F_REPLY_SERIAL: 7, F.F_SIGNATURE: "bus"}, [True, 42, "x"]))
    assert r.body == [True, 42, "x"] and r.fields[F.F_REPLY_SERIAL] == 7


def test_reader_handles_containers_and_big_endian() -> None:
    w = F.Writer()
    w.put("y", 1)
    w.put("u", 8)  # aligned to 4
    assert bytes(w.buf) == b"\x01\x00\x00\x00\x08\x00\x00\x00"
    assert F.Reader(bytes(w.buf)).get("y") == 1
    # big-endian: an array of two strings, then a byte
    data = b"\x00\x00\x00\x0e" + b"\x00\x00\x00\x01a\x00" + b"\x00\x00" + b"\x00\x00\x00\x01b\x00" + b"\x07"
    r = F.Reader(data, little=False)
    assert r.get("as") == ["a", "b"]
    assert r.get("y") == 7
    assert F.Reader(b"\x08\x00\x00\x00" + bytes(4) + b"\x01\x00\x00\x00\x02\x00\x00\x00").get("a(uu)") == [(1, 2)]
    assert F.split_signature("sa{sv}(ib)ay") == ["s", "a{sv}", "(ib)", "ay"]


def test_error_text_is_godbus() -> None:
    assert str(F.DBusError("org.x.Error", ["ZONE_ALREADY_SET: trusted"])) == "ZONE_ALREADY_SET: trusted"
    assert str(F.DBusError("org.x.Error", [])) == "org.x.Error"
    assert str(F.DBusError("org.x.Error", [3])) == "org.x.Error"


def test_connect_errors(tmp_path: object) -> None:
    with pytest.raises(F.DBusConnError) as ei:
        F.Conn.connect(f"unix:path={tmp_path}/none")
    assert str(ei.value) == f"dial unix {tmp_path}/none: connect: no such file or directory"
    with pytest.raises(F.DBusConnError, match="unsupported transport"):
        F.Conn.connect("tcp:host=localhost,port=1")
    assert not F.is_firewalld_running(None)


# --- a fake bus that also plays firewalld ------------------------------------------------------------


class FakeBus:
    def __init__(self, path: str, firewalld: bool = True) -> None:
        self.path = path
        self.firewalld = firewalld
        self.sources: set[tuple[str, str]] = set()
        self.calls: list[tuple[str, list]] = []
        self.query_answer: bool | None = None  # None: the truth
        self.fail: dict[str, tuple[str, str]] = {}  # member -> (error name, message)
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(8)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.srv.close()

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c: socket.socket) -> None:
        f = c.makefile("rb")
        try:
            assert f.read(1) == b"\0"
            line = f.readline()
            assert line == b"AUTH EXTERNAL " + str(os.geteuid()).encode().hex().encode() + b"\r\n", line
            c.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
            assert f.readline() == b"BEGIN\r\n"
            serial = 100
            while True:
                try:
                    m = F.read_message(lambda n: _read_exact(f, n))
                except (F.DBusConnError, EOFError):
                    return
                member = m.fields.get(F.F_MEMBER)
                self.calls.append((member, list(m.body)))
                serial += 1

                def reply(sig: str, *body: object) -> None:
                    fields = {F.F_REPLY_SERIAL: m.serial}
                    if sig:
                        fields[F.F_SIGNATURE] = sig
                    c.sendall(F.Message(F.METHOD_RETURN, serial, fields, list(body)).pack())

                def error(name: str, text: str) -> None:
                    c.sendall(F.Message(F.ERROR, serial, {F.F_REPLY_SERIAL: m.serial, F.F_ERROR_NAME: name,
                                                          F.F_SIGNATURE: "s"}, [text]).pack())

                if member in self.fail:
                    error(*self.fail[member])
                elif member == "Hello":
                    # a signal first: the client must skip it
                    c.sendall(F.Message(F.SIGNAL, serial, {F.F_PATH: F.DBUS_PATH, F.F_INTERFACE: F.DBUS_NAME,
                                                           F.F_MEMBER: "NameAcquired", F.F_SIGNATURE: "s"},
                                        [":1.7"]).pack())
                    reply("s", ":1.7")
                elif member == "GetNameOwner":
                    if self.firewalld and m.body == [F.FIREWALLD_NAME]:
                        reply("s", ":1.1")
                    else:
                        error("org.freedesktop.DBus.Error.NameHasNoOwner", f"Could not get owner of name '{m.body[0]}'")
                elif member == "addSource":
                    if tuple(m.body) in self.sources:
                        error("org.fedoraproject.FirewallD1.Exception", f"ZONE_ALREADY_SET: {m.body[1]}")
                    else:
                        self.sources.add(tuple(m.body))
                        reply("s", m.body[0])
                elif member == "removeSource":
                    if tuple(m.body) not in self.sources:
                        error("org.fedoraproject.FirewallD1.Exception", f"UNKNOWN_SOURCE: {m.body[1]}")
                    else:
                        self.sources.discard(tuple(m.body))
                        reply("s", m.body[0])
                elif member == "querySource":
                    ans = tuple(m.body) in self.sources if self.query_answer is None else self.query_answer
                    reply("b", ans)
                else:
                    error("org.freedesktop.DBus.Error.UnknownMethod", "no")
        finally:
            c.close()


def _read_exact(f: object, n: int) -> bytes:
    data = f.read(n)  # type: ignore[attr-defined]
    if len(data) < n:
        raise EOFError
    return data


@pytest.fixture
def bus(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> FakeBus:
    b = FakeBus(f"{tmp_path}/bus")
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/bus")
    yield b
    b.close()


def call(cmd: str, **kw: object) -> tuple[dict | None, str | None]:
    conf: dict = {"cniVersion": "1.0.0", "name": "net", "type": "firewall", "prevResult": PREV}
    conf.update(kw)
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": "cid1", "CNI_NETNS": "/run/netns/c", "CNI_IFNAME": "eth0",
           "CNI_PATH": "/nonexistent"}
    out = run(firewall.PLUGIN, env, json.dumps({k: v for k, v in conf.items() if v is not None}).encode())
    if out.error is not None:
        return None, out.error.msg
    return (json.loads(out.stdout()) if out.stdout() else None), None


def test_auto_detects_firewalld_and_adds_sources(bus: FakeBus) -> None:
    res, e = call("ADD")
    assert e is None and res["ips"][0]["address"] == "10.88.7.2/24"
    assert bus.sources == {("trusted", "10.88.7.2/32"), ("trusted", "fd00:88:7::2/128")}
    assert ("GetNameOwner", [F.FIREWALLD_NAME]) in bus.calls
    assert call("ADD") == (res, None)  # ZONE_ALREADY_SET is fine
    assert call("CHECK") == (None, None)
    assert call("DEL") == (None, None)
    assert bus.sources == set()
    assert call("DEL") == (None, None)  # removeSource errors are ignored
    assert call("DEL", prevResult=None) == (None, None)


def test_zone_and_explicit_backend(bus: FakeBus) -> None:
    assert call("ADD", backend="firewalld", firewalldZone="public")[1] is None
    assert ("public", "10.88.7.2/32") in bus.sources
    assert call("CHECK", backend="firewalld", firewalldZone="public") == (None, None)
    assert call("CHECK", backend="firewalld") == (None, "failed to find the address 10.88.7.2/32 in trusted zone")


def test_add_errors_other_than_already_set(bus: FakeBus) -> None:
    bus.fail["addSource"] = ("org.fedoraproject.FirewallD1.Exception", "INVALID_ZONE: nope")
    assert call("ADD", firewalldZone="nope") == (
        None, "failed to add the address 10.88.7.2/32 to nope zone: INVALID_ZONE: nope")


def test_check_fails_on_a_false_answer_or_an_error(bus: FakeBus) -> None:
    call("ADD")
    bus.query_answer = False
    assert call("CHECK") == (None, "failed to find the address 10.88.7.2/32 in trusted zone")
    bus.query_answer = None
    bus.fail["querySource"] = ("org.fedoraproject.FirewallD1.Exception", "INVALID_ZONE")
    assert call("CHECK") == (None, "failed to find the address 10.88.7.2/32 in trusted zone")


def test_ingress_policy_is_validated_before_firewalld_is_called(bus: FakeBus) -> None:
    assert call("ADD", ingressPolicy="bogus") == (None, 'unknown ingress policy: "bogus"')
    assert not any(m in ("addSource",) for m, _ in bus.calls)


def test_no_firewalld_on_the_bus_means_iptables(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    b = FakeBus(f"{tmp_path}/bus2", firewalld=False)
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/bus2")
    try:
        from pycni.plugins.meta.firewall.iptables import IptablesBackend

        monkeypatch.setattr("pycni.linux.netfilter.shutil.which", lambda p: f"/usr/sbin/{p}")
        assert isinstance(FP.get_backend({}), IptablesBackend)
        assert [m for m, _ in b.calls] == ["Hello", "GetNameOwner"]
    finally:
        b.close()


# --- a real bus daemon ------------------------------------------------------------------------------------


@pytest.fixture
def real_bus(tmp_path: object) -> str:
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        pytest.skip("dbus-daemon is not installed: the client is only tested against the in-process fake bus")
    addr = f"unix:path={tmp_path}/real-bus"
    p = subprocess.Popen([daemon, "--session", "--nofork", "--nopidfile", f"--address={addr}", "--print-address=1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("unix:"):
            pytest.skip(f"dbus-daemon did not start: {p.stderr.read() if p.stderr else ''}")
        yield addr
    finally:
        p.terminate()
        p.wait(timeout=10)


def _fake_firewalld(conn: F.Conn, seen: list, stop: threading.Event) -> None:
    sources: set[tuple[str, str]] = set()
    while not stop.is_set():
        try:
            m = conn.receive()
        except F.DBusConnError:
            return
        if m.type != F.METHOD_CALL:
            continue
        member = m.fields.get(F.F_MEMBER)
        seen.append((member, list(m.body)))
        fields = {F.F_REPLY_SERIAL: m.serial, F.F_DESTINATION: m.fields[F.F_SENDER]}
        if member == "querySource":
            out = F.Message(F.METHOD_RETURN, conn.next_serial(), {**fields, F.F_SIGNATURE: "b"},
                            [tuple(m.body) in sources])
        elif member == "addSource" and tuple(m.body) in sources:
            out = F.Message(F.ERROR, conn.next_serial(), {**fields, F.F_ERROR_NAME: "org.fedoraproject."
                            "FirewallD1.Exception", F.F_SIGNATURE: "s"}, [f"ZONE_ALREADY_SET: {m.body[1]}"])
        else:
            (sources.add if member == "addSource" else sources.discard)(tuple(m.body))
            out = F.Message(F.METHOD_RETURN, conn.next_serial(), {**fields, F.F_SIGNATURE: "s"}, [m.body[0]])
        conn.send(out)


def test_against_a_real_bus_daemon(real_bus: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = F.Conn.connect(real_bus)
    assert client.unique_name.startswith(":")
    assert not F.is_firewalld_running(client)
    with pytest.raises(F.DBusError) as ei:
        client.call(F.DBUS_NAME, F.DBUS_PATH, F.DBUS_NAME, "GetNameOwner", "s", F.FIREWALLD_NAME)
    assert ei.value.name == "org.freedesktop.DBus.Error.NameHasNoOwner"
    service = F.Conn.connect(real_bus)
    assert service.call(F.DBUS_NAME, F.DBUS_PATH, F.DBUS_NAME, "RequestName", "su", F.FIREWALLD_NAME, 0) == [1]
    assert F.is_firewalld_running(client)
    client.close()
    seen: list = []
    stop = threading.Event()
    t = threading.Thread(target=_fake_firewalld, args=(service, seen, stop), daemon=True)
    t.start()
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", real_bus)
    try:
        assert call("ADD")[1] is None
        assert call("ADD")[1] is None
        assert call("CHECK") == (None, None)
        assert call("DEL") == (None, None)
        assert call("CHECK")[1] == "failed to find the address 10.88.7.2/32 in trusted zone"
    finally:
        stop.set()
        service.close()
    assert seen[:2] == [("addSource", ["trusted", "10.88.7.2/32"]), ("addSource", ["trusted", "fd00:88:7::2/128"])]
    assert ("removeSource", ["trusted", "fd00:88:7::2/128"]) in seen
