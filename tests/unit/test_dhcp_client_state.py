"""The DHCP client's sans-IO machines (pycni.plugins.ipam.dhcp.client4/client6) and lease.py's result mapping,
with canned packets and a fake clock: no sockets, no namespaces, no root."""

from __future__ import annotations

import pytest

from pycni.plugins.ipam.dhcp import client4 as c4
from pycni.plugins.ipam.dhcp import client6 as c6
from pycni.plugins.ipam.dhcp import lease as L
from pycni.plugins.ipam.dhcp import packet4 as p4

MAC = bytes.fromhex("020000aabbcc")
CID = b"\0cid1/net1/eth0"
SERVER = p4.ip_bytes("192.168.77.1")


def params(broadcast: bool = False) -> c4.Params:
    return c4.Params(MAC, CID, b"\x03\x01", [], broadcast)


def reply(kind: int, xid: int, yiaddr: str = "192.168.77.60", server: bytes = SERVER, mac: bytes = MAC,
          **opts: bytes) -> p4.Message:
    o = {53: bytes([kind]), 54: server, 1: p4.ip_bytes("255.255.255.0")}
    o.update({int(k[1:]): v for k, v in opts.items()})
    return p4.Message(p4.BOOTREPLY, xid, mac, yiaddr=p4.ip_bytes(yiaddr), options=o)


# -- one exchange ----------------------------------------------------------------------------------------------


def test_select_resends_with_doubling_waits_then_fails() -> None:
    ex = c4.Exchange(params(), "select", 42, timeout=10.0)
    d = ex.start(0.0)
    assert d.msg_type == p4.DISCOVER and d.xid == 42 and ex.deadline == 10.0
    assert ex.on_timeout(5.0) is None  # not yet
    assert ex.on_timeout(10.0) is d and ex.deadline == 30.0
    assert ex.on_timeout(30.0) is d and ex.deadline == 70.0
    assert ex.on_timeout(70.0) is None and ex.done and ex.ack is None
    assert ex.error == ("unable to receive an offer: got an error while the discovery request: "
                        "no matching response packet received")


def test_select_happy_path_and_filters() -> None:
    ex = c4.Exchange(params(broadcast=True), "select", 42, timeout=10.0)
    ex.start(0.0)
    assert ex.on_message(reply(p4.OFFER, 41), 1.0) is None  # another xid
    assert ex.on_message(reply(p4.OFFER, 42, mac=b"\x02" * 6), 1.0) is None  # another client's
    assert ex.on_message(reply(p4.ACK, 42), 1.0) is None  # not an offer
    req = ex.on_message(reply(p4.OFFER, 42), 1.0)
    assert req is not None and req.msg_type == p4.REQUEST and req.xid == 42
    assert req.opt(50) == p4.ip_bytes("192.168.77.60") and req.opt(54) == SERVER
    assert req.flags == p4.FLAG_BROADCAST
    assert ex.deadline == 11.0  # the REQUEST step starts its own resend cycle
    assert ex.on_message(reply(p4.ACK, 42, server=p4.ip_bytes("192.168.77.9")), 2.0) is None  # other server
    assert not ex.done
    ack = reply(p4.ACK, 42)
    ex.on_message(ack, 2.0)
    assert ex.done and ex.ack is ack and ex.error is None


def test_nak_and_request_timeout_texts() -> None:
    ex = c4.Exchange(params(), "select", 1, timeout=1.0)
    ex.start(0.0)
    ex.on_message(reply(p4.OFFER, 1), 0.1)
    ex.on_message(reply(p4.NAK, 1, o56=b"wrong network"), 0.2)
    assert ex.done and ex.error == "server rejected request with Nak (msg: wrong network)"
    ex = c4.Exchange(params(), "select", 1, timeout=1.0)
    ex.start(0.0)
    ex.on_message(reply(p4.OFFER, 1), 0.1)
    for t in (1.1, 3.1, 7.1):
        ex.on_timeout(t)
    assert ex.error == "got an error while processing the request: no matching response packet received"


def test_renew_uses_the_ack() -> None:
    ack = reply(p4.ACK, 77)
    ex = c4.Exchange(params(), "renew", 77, timeout=1.0, ack=ack)
    req = ex.start(0.0)
    assert req.msg_type == p4.REQUEST and req.ciaddr == ack.yiaddr and req.opt(50) is None
    ex.on_message(reply(p4.ACK, 77), 0.5)
    assert ex.done and ex.ack is not None
    with pytest.raises(ValueError):
        c4.Exchange(params(), "renew", 1, timeout=1.0).start(0.0)


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class FakeWire(c4.Transport):
    """Answers per the script: on each send, queue the messages script(sent) returns; recv advances the clock."""

    def __init__(self, clock: FakeClock, script) -> None:
        self.clock, self.script = clock, script
        self.sent: list[tuple[p4.Message, bytes]] = []
        self.queue: list[p4.Message] = []

    def send(self, m: p4.Message, dst: bytes, src: bytes = b"\0\0\0\0") -> None:
        self.sent.append((m, dst))
        self.queue += self.script(m)

    def recv(self, timeout: float) -> p4.Message | None:
        if self.queue:
            self.clock.t += 0.01
            return self.queue.pop(0)
        self.clock.t += timeout
        return None


def dora(m: p4.Message) -> list[p4.Message]:
    if m.msg_type == p4.DISCOVER:
        return [reply(p4.OFFER, m.xid)]
    return [reply(p4.ACK, m.xid, o51=(120).to_bytes(4, "big"))]


def test_run_exchange_dora_over_a_fake_wire() -> None:
    clock = FakeClock()
    wire = FakeWire(clock, dora)
    ex = c4.Exchange(params(), "select", 5, timeout=1.0)
    ack = c4.run_exchange(ex, wire, clock, deadline=10.0)
    assert ack.msg_type == p4.ACK
    assert [m.msg_type for m, _ in wire.sent] == [p4.DISCOVER, p4.REQUEST]
    assert all(dst == b"\xff" * 4 for _, dst in wire.sent)


def test_run_exchange_lost_offer_is_resent_and_deadline_is_hard() -> None:
    clock = FakeClock()
    drops = [True]

    def lossy(m: p4.Message) -> list[p4.Message]:
        if drops and m.msg_type == p4.DISCOVER:
            drops.pop()
            return []
        return dora(m)

    wire = FakeWire(clock, lossy)
    c4.run_exchange(c4.Exchange(params(), "select", 5, timeout=1.0), wire, clock, deadline=10.0)
    assert [m.msg_type for m, _ in wire.sent] == [p4.DISCOVER, p4.DISCOVER, p4.REQUEST]

    clock = FakeClock()
    silent = FakeWire(clock, lambda m: [])
    with pytest.raises(TimeoutError, match="no more tries"):
        c4.run_exchange(c4.Exchange(params(), "select", 5, timeout=1.0), silent, clock, deadline=2.5)
    assert clock.t <= 3.0
    with pytest.raises(c4.ExchangeFailed):
        c4.run_exchange(c4.Exchange(params(), "select", 5, timeout=1.0), silent, clock, deadline=100.0)
    with pytest.raises(c4.Cancelled):
        c4.run_exchange(c4.Exchange(params(), "select", 5, timeout=1.0), silent, clock, 100.0, lambda: True)


def test_backoff_like_head() -> None:
    def mid() -> float:
        return 0.5  # no jitter

    g = c4.backoff_delays(62.0, mid)
    assert [next(g) for _ in range(10)] == [2, 2, 2, 2, 8, 16, 32, 64, 64, 64]
    g = c4.backoff_delays(8.0, mid)
    assert [next(g) for _ in range(7)] == [2, 2, 2, 2, 8, 8, 8]
    g = c4.backoff_delays(2.0, mid)
    assert [next(g) for _ in range(6)] == [2, 2, 2, 2, 4, 4]
    g = c4.backoff_delays(62.0, lambda: 0.0)
    assert next(g) == 1.0


# -- timers and the maintenance loop ---------------------------------------------------------------------------


def secs(n: int) -> bytes:
    return n.to_bytes(4, "big")


@pytest.mark.parametrize(("opts", "want"), [
    ({}, (1800, 3060, 3600)),
    ({"o51": secs(100)}, (50, 85, 100)),
    ({"o51": secs(100), "o58": secs(10), "o59": secs(20)}, (10, 20, 100)),
    ({"o51": secs(100), "o59": secs(200)}, (50, 85, 100)),  # T2 past the lease: 85%
    ({"o51": secs(100), "o58": secs(90), "o59": secs(80)}, (50, 80, 100)),  # T1 past T2: 50%
])
def test_timers_like_head_commit(opts: dict[str, bytes], want: tuple[int, int, int]) -> None:
    ack = reply(p4.ACK, 1)
    ack.options.update({int(k[1:]): v for k, v in opts.items()})
    t = c4.timers_from_ack(ack, 1000.0)
    assert (t.t1 - 1000, t.t2 - 1000, t.expiry - 1000) == want and t.obtained == 1000


def test_maintenance_bound_renew_rebind_expire() -> None:
    m = c4.Maintenance(c4.Timers(0, 10, 20, 30))
    assert m.next_action(4) == ("wait", 6)
    assert m.next_action(10) == ("renew", 0)
    m.renewed(None, 15)  # failed before T2: renew again
    assert m.next_action(15) == ("renew", 0)
    m.renewed(None, 21)  # failed past T2: rebind (a full DISCOVER, as HEAD)
    assert m.next_action(21) == ("rebind", 0)
    m.rebound(None, 25)
    assert m.next_action(25) == ("rebind", 0)
    m.rebound(None, 31)
    assert m.next_action(31) == ("expire", 0)
    m = c4.Maintenance(c4.Timers(0, 10, 20, 30))
    m.next_action(10)
    m.renewed(c4.Timers(10, 20, 30, 40), 10)
    assert m.next_action(12) == ("wait", 8) and m.state == c4.BOUND


# -- DHCPv6 exchange -------------------------------------------------------------------------------------------

DUID = c6.duid_for(b"cid1/net1/eth0")
IAID = c6.iaid_for(b"cid1/net1/eth0")
SID = b"\0\1server"


def v6reply(t: int, xid: int, ia: c6.IANA | None, sid: bytes = SID, duid: bytes = DUID,
            extra: list[tuple[int, bytes]] | None = None) -> c6.Message6:
    opts = [(c6.OPT_CLIENTID, duid), (c6.OPT_SERVERID, sid)]
    if ia is not None:
        opts.append((c6.OPT_IA_NA, ia.encode()))
    return c6.Message6(t, xid, opts + (extra or []))


def test_v6_solicit_advertise_request_reply() -> None:
    ex = c6.Exchange6("solicit", 0x10, DUID, IAID, timeout=1.0)
    sol = ex.start(0.0)
    assert sol.type == c6.SOLICIT and sol.opt(c6.OPT_CLIENTID) == DUID and sol.opt(c6.OPT_SERVERID) is None
    none_left = c6.IANA(IAID)
    none_left.status = 2
    assert ex.on_message(v6reply(c6.ADVERTISE, 0x10, none_left), 0.1) is None  # NoAddrsAvail: wait for others
    assert ex.on_message(v6reply(c6.ADVERTISE, 0x10, c6.IANA(IAID, 0, 0, "fd77::5", 60, 120), duid=b"x"),
                         0.1) is None
    req = ex.on_message(v6reply(c6.ADVERTISE, 0x10, c6.IANA(IAID, 0, 0, "fd77::5", 60, 120)), 0.2)
    assert req is not None and req.type == c6.REQUEST and req.opt(c6.OPT_SERVERID) == SID
    ia = c6.ia_of(req, IAID)
    assert ia is not None and ia.address == "fd77::5"
    ex.on_message(v6reply(c6.REPLY, 0x10, c6.IANA(IAID, 30, 48, "fd77::5", 60, 120), sid=b"other"), 0.3)
    assert not ex.done
    ex.on_message(v6reply(c6.REPLY, 0x10, c6.IANA(IAID, 30, 48, "fd77::5", 60, 120)), 0.3)
    assert ex.done and ex.ia is not None and ex.ia.address == "fd77::5" and ex.server_id == SID
    t = c6.timers_from_ia(ex.ia, 100.0)
    assert (t.t1, t.t2, t.expiry) == (130, 148, 220)


def test_v6_rapid_commit_reply_and_errors() -> None:
    ex = c6.Exchange6("solicit", 1, DUID, IAID, timeout=1.0)
    ex.start(0.0)
    ex.on_message(v6reply(c6.REPLY, 1, c6.IANA(IAID, 0, 0, "fd77::9", 100, 200)), 0.1)
    assert not ex.done  # a REPLY without Rapid Commit is not an answer to SOLICIT
    ex.on_message(v6reply(c6.REPLY, 1, c6.IANA(IAID, 0, 0, "fd77::9", 100, 200),
                          extra=[(c6.OPT_RAPID_COMMIT, b"")]), 0.1)
    assert ex.done and ex.ia is not None
    t = c6.timers_from_ia(ex.ia, 0.0)
    assert (t.t1, t.t2, t.expiry) == (50, 80, 200)

    bound = c6.IANA(IAID, 0, 0, "fd77::9", 100, 200)
    ex = c6.Exchange6("renew", 2, DUID, IAID, timeout=1.0, bound=bound, server_id=SID)
    renew = ex.start(0.0)
    assert renew.type == c6.RENEW and renew.opt(c6.OPT_SERVERID) == SID
    ex.on_message(v6reply(c6.REPLY, 2, None, extra=[(c6.OPT_STATUS, b"\0\3gone")]), 0.1)
    assert ex.done and ex.error == "server replied NoBinding: gone"
    ex = c6.Exchange6("rebind", 3, DUID, IAID, timeout=1.0, bound=bound, server_id=SID)
    assert ex.start(0.0).opt(c6.OPT_SERVERID) is None
    ex.on_message(v6reply(c6.REPLY, 3, c6.IANA(IAID, 0, 0, "fd77::9", 100, 200), sid=b"another"), 0.1)
    assert ex.done and ex.server_id == b"another"  # any server may answer a REBIND
    ex2 = c6.Exchange6("release", 4, DUID, IAID, timeout=1.0, bound=bound, server_id=SID)
    assert ex2.start(0.0).type == c6.RELEASE
    for t in (1.0, 3.0, 7.0):
        ex2.on_timeout(t)
    assert ex2.done and ex2.error == "no matching response packet received"


# -- the result, as HEAD maps the ACK ------------------------------------------------------------------------


def lease_with(ack: p4.Message, **cfg: object) -> L.Lease:
    lease = L.Lease(L.LeaseConfig("cid1", "net1", "eth0", "/run/netns/x", **cfg))  # type: ignore[arg-type]
    lease.v4.commit(ack, 0.0)
    return lease


def routers(*ips: str) -> bytes:
    return b"".join(p4.ip_bytes(i) for i in ips)


def test_result_option121_replaces_everything() -> None:
    ack = reply(p4.ACK, 1, o3=routers("192.168.77.1", "192.168.77.2"),
                o121=p4.encode_classless([("10.20.0.0", 16, "192.168.77.254"), ("10.30.0.0", 16, "0.0.0.0")]),
                o33=routers("10.1.0.0", "192.168.77.9"))
    assert lease_with(ack, multipath_routers=True).result() == {
        "cniVersion": "1.1.0",
        "ips": [{"address": "192.168.77.60/24", "gateway": "192.168.77.1"}],
        "routes": [{"dst": "10.20.0.0/16", "gw": "192.168.77.254"},
                   {"dst": "10.30.0.0/16", "gw": "0.0.0.0", "scope": 253}],
        "dns": {}}


def test_result_options_33_and_3() -> None:
    ack = reply(p4.ACK, 1, o3=routers("192.168.77.1", "192.168.77.2"),
                o33=routers("10.1.2.0", "192.168.77.9", "224.0.0.0", "192.168.77.9"))
    res = lease_with(ack).result()
    assert res["routes"] == [{"dst": "10.1.2.0/8", "gw": "192.168.77.9"}, {"dst": "0.0.0.0/0", "gw": "192.168.77.1"}]
    multi = lease_with(ack, multipath_routers=True, priority=50).result()
    assert multi["routes"] == [{"dst": "10.1.2.0/8", "gw": "192.168.77.9", "priority": 50},
                               {"dst": "0.0.0.0/0", "gw": "192.168.77.1", "priority": 50},
                               {"dst": "0.0.0.0/0", "gw": "192.168.77.2", "priority": 50}]
    assert multi["ips"][0]["gateway"] == "192.168.77.1"


def test_result_without_mask_is_heads_error() -> None:
    ack = reply(p4.ACK, 1)
    del ack.options[1]
    with pytest.raises(L.LeaseError, match="^DHCP option Subnet Mask not found in DHCPACK$"):
        lease_with(ack).result()


def test_state_roundtrip_without_sockets() -> None:
    ack = reply(p4.ACK, 1, o51=secs(120), o3=routers("192.168.77.1"))
    lease = lease_with(ack)
    lease.mac = MAC
    st = lease.state()
    again = L.Lease(L.LeaseConfig("cid1", "net1", "eth0", "/run/netns/x"))
    again.v4.load(st["v4"])
    assert again.result() == lease.result()
    assert abs((again.v4.timers.expiry - again.v4.timers.obtained) - 120) < 0.01
    assert st["client_id"] == b"cid1/net1/eth0".hex() and st["mac"] == MAC.hex()


def test_on_change_set_late_still_hears_an_earlier_renewal() -> None:
    lease = lease_with(reply(p4.ACK, 1))
    calls: list[str] = []
    lease._changed()  # a renewal before the daemon set its callback (right after adopt)
    lease.on_change = lambda: calls.append("late")
    assert calls == ["late"]
    lease.on_change = lambda: calls.append("again")
    assert calls == ["late"]  # reported once only
    lease._changed()
    assert calls == ["late", "again"]

    def broken() -> None:
        raise OSError("disk full")

    lease.on_change = broken
    lease._changed()  # logged, never raised into the worker
