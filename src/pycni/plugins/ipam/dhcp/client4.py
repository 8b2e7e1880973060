"""The DHCPv4 client: sans-IO state machines (one exchange with its resends, HEAD's retry backoff, the lease
timers and the Bound/Renewing/Rebinding loop) and, kept apart at the bottom, the AF_PACKET socket they drive.

The machines never sleep, read clocks or touch sockets (callers pass `now` in), so they are unit-tested with
canned packets. Namespaces are not handled here: the socket is opened by a caller already inside the netns.
"""

from __future__ import annotations

import _socket
import random
import select

from pycni.plugins.ipam.dhcp import packet4 as p4

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, Self

    from pycni.plugins.ipam.dhcp.packet4 import Message

NO_MORE_TRIES = "no more tries"
NO_MATCH = "no matching response packet received"
TRIES = 3  # nclient4: three sends per exchange, the read timeout doubling each time


class ExchangeFailed(Exception):
    """One exchange failed (no answer after all resends, or a NAK): the caller backs off and retries."""


class Params:
    """What every message of one lease carries."""

    __slots__ = ("broadcast", "client_id", "mac", "prl", "provide")

    def __init__(self, mac: bytes, client_id: bytes, prl: bytes, provide: list[tuple[int, bytes]],
                 broadcast: bool) -> None:
        self.mac, self.client_id, self.prl, self.provide, self.broadcast = mac, client_id, prl, provide, broadcast


class Exchange:
    """One nclient4-style exchange, sans-IO.

    kind "select": DISCOVER -> first OFFER -> REQUEST -> ACK/NAK from the offering server.
    kind "renew": REQUEST (ciaddr = bound address, no 50/54) -> ACK/NAK.
    Each step sends, waits `timeout`, resends with the wait doubled, TRIES sends in all; then it fails.
    Drive it with start(), then on_message() for each received message and on_timeout() when `deadline` passes;
    each may return a message to send. `done` is set with either `ack` or `error`.
    """

    def __init__(self, params: Params, kind: str, xid: int, timeout: float, ack: Message | None = None) -> None:
        self.params, self.kind, self.xid, self.timeout = params, kind, xid, timeout
        self.prev_ack = ack
        self.offer: Message | None = None
        self.ack: Message | None = None
        self.error: str | None = None
        self.done = False
        self.deadline = 0.0
        self._sent: Message | None = None
        self._tries = 0
        self._wait = timeout

    def _send(self, m: Message, now: float) -> Message:
        self._sent, self._tries, self._wait = m, 1, self.timeout
        self.deadline = now + self._wait
        return m

    def start(self, now: float) -> Message:
        p = self.params
        if self.kind == "renew":
            if self.prev_ack is None:
                raise ValueError("a renew needs the bound lease's ACK")
            m = p4.renew_from_ack(self.prev_ack, self.xid, p.mac, p.client_id, p.prl, p.provide, p.broadcast)
        else:
            m = p4.discover(self.xid, p.mac, p.client_id, p.prl, p.provide, p.broadcast)
        return self._send(m, now)

    def _fail(self, text: str) -> None:
        self.done, self.error = True, text

    def on_timeout(self, now: float) -> Message | None:
        if self.done or now < self.deadline:
            return None
        if self._tries >= TRIES:
            if self.kind == "select" and self.offer is None:
                self._fail(f"unable to receive an offer: got an error while the discovery request: {NO_MATCH}")
            else:
                self._fail(f"got an error while processing the request: {NO_MATCH}")
            return None
        self._tries += 1
        self._wait *= 2
        self.deadline = now + self._wait
        return self._sent

    def matches(self, m: Message) -> bool:
        """nclient4's filter: a BOOTREPLY to our MAC with the pending xid."""
        sent = self._sent
        return (sent is not None and m.op == p4.BOOTREPLY and m.xid == sent.xid
                and m.chaddr[:len(self.params.mac)] == self.params.mac)

    def on_message(self, m: Message, now: float) -> Message | None:
        if self.done or not self.matches(m):
            return None
        t = m.msg_type
        if self.kind == "select" and self.offer is None:
            if t != p4.OFFER:
                return None
            self.offer = m
            p = self.params
            return self._send(p4.request_from_offer(m, p.mac, p.client_id, p.prl, p.provide, p.broadcast), now)
        if t not in (p4.ACK, p4.NAK):
            return None
        if self.offer is not None and self.offer.opt(p4.OPT_SERVER_ID) != m.opt(p4.OPT_SERVER_ID):
            return None  # only the server we asked may answer
        if t == p4.NAK:
            msg = (m.opt(p4.OPT_MESSAGE) or b"").decode("utf-8", "replace")
            self._fail(f"server rejected request with Nak (msg: {msg})")
        else:
            self.done, self.ack = True, m
        return None


def backoff_delays(resend_max: float, rng: Callable[[], float] = random.random) -> Iterator[float]:
    """HEAD's backoffRetry sleeps: 2 s ±1 four times, then the base (4 s, doubled after each sleep while it is
    below resend_max) ±1: 8, 16, 32, 64, 64 ... for the default 62 s (the cap overshoots, as upstream)."""
    base = 4.0
    for _ in range(4):
        yield 2.0 + (2.0 * rng() - 1.0)
    if base < resend_max:
        base *= 2
    while True:
        yield base + (2.0 * rng() - 1.0)
        if base < resend_max:
            base *= 2


# ---------------------------------------------------------------------------------------------------------------
# Lease timers and the maintenance loop


class Timers:
    """A lease's absolute times (one clock, whatever the caller's `now` is): T1, T2, expiry."""

    __slots__ = ("expiry", "obtained", "t1", "t2")

    def __init__(self, obtained: float, t1: float, t2: float, expiry: float) -> None:
        self.obtained, self.t1, self.t2, self.expiry = obtained, t1, t2, expiry

    def shifted(self, delta: float) -> Timers:
        return Timers(self.obtained + delta, self.t1 + delta, self.t2 + delta, self.expiry + delta)


def timers_from_ack(ack: Message, now: float) -> Timers:
    """HEAD's commit(): lease = option 51 (default 1 h); T2 = option 59 unless missing or past the lease
    (then 85%); T1 = option 58 unless missing or past T2 (then 50%); all counted from now."""
    lease = p4.seconds(ack, p4.OPT_LEASE_TIME)
    lease_s = float(lease) if lease is not None else 3600.0
    t2 = p4.seconds(ack, p4.OPT_T2)
    t2_s = float(t2) if t2 is not None and t2 <= lease_s else lease_s * 0.85
    t1 = p4.seconds(ack, p4.OPT_T1)
    t1_s = float(t1) if t1 is not None and t1 <= t2_s else lease_s / 2
    return Timers(now, now + t1_s, now + t2_s, now + lease_s)


BOUND, RENEWING, REBINDING, EXPIRED = "bound", "renewing", "rebinding", "expired"


class Maintenance:
    """HEAD's maintain(), sans-IO. next_action(now) says what to do: ("wait", seconds), ("renew", 0),
    ("rebind", 0) (HEAD rebinds with a full DISCOVER) or ("expire", 0) (set the link down and stop).
    Report outcomes with renewed()/rebound(); a success takes new timers."""

    def __init__(self, timers: Timers, state: str = BOUND) -> None:
        self.timers, self.state = timers, state

    def next_action(self, now: float) -> tuple[str, float]:
        if self.state == BOUND:
            if now < self.timers.t1:
                return "wait", self.timers.t1 - now
            self.state = RENEWING
        if self.state == RENEWING:
            return "renew", 0.0
        if self.state == REBINDING:
            return "rebind", 0.0
        return "expire", 0.0

    def renewed(self, timers: Timers | None, now: float) -> None:
        if timers is not None:
            self.timers, self.state = timers, BOUND
        elif now > self.timers.t2:
            self.state = REBINDING

    def rebound(self, timers: Timers | None, now: float) -> None:
        if timers is not None:
            self.timers, self.state = timers, BOUND
        elif now > self.timers.expiry:
            self.state = EXPIRED


# ---------------------------------------------------------------------------------------------------------------
# Driving an exchange over some transport


class Transport:
    """What run_exchange needs: send a message (to an IPv4 destination) and wait for the next DHCP reply."""

    def send(self, m: Message, dst: bytes, src: bytes = b"\0\0\0\0") -> None:
        raise NotImplementedError

    def recv(self, timeout: float) -> Message | None:
        """The next decodable DHCP message to the client port, None when `timeout` passes first."""
        raise NotImplementedError


class Cancelled(Exception):
    """The caller's stop flag was raised mid-exchange."""


def drive(ex: Any, send: Callable[[Any], None], recv: Callable[[float], Any], now: Callable[[], float],
          deadline: float, stopped: Callable[[], bool]) -> None:
    """The wait loop of one exchange, either family: send its first message, then feed it each reply or
    timeout until it is done. TimeoutError past `deadline`, Cancelled when `stopped()` turns true
    (checked at least every 0.5 s)."""
    send(ex.start(now()))
    while not ex.done:
        t = now()
        if t >= deadline:
            raise TimeoutError(NO_MORE_TRIES)
        if stopped():
            raise Cancelled()
        m = recv(max(0.0, min(ex.deadline, deadline, t + 0.5) - t))
        t = now()
        out = ex.on_message(m, t) if m is not None else ex.on_timeout(t)
        if out is not None:
            send(out)


def run_exchange(ex: Exchange, io: Transport, now: Callable[[], float], deadline: float,
                 stopped: Callable[[], bool] = lambda: False) -> Message:
    """Run one exchange to its end; ExchangeFailed on failure, TimeoutError past `deadline`, Cancelled when
    `stopped()` turns true (checked at least every 0.5 s)."""
    broadcast = p4.ip_bytes("255.255.255.255")
    drive(ex, lambda m: io.send(m, broadcast), io.recv, now, deadline, stopped)
    if ex.ack is None:
        raise ExchangeFailed(ex.error or NO_MATCH)
    return ex.ack


# ---------------------------------------------------------------------------------------------------------------
# The AF_PACKET socket (nclient4's shape: SOCK_DGRAM, ETH_P_IP, Ethernet broadcast, from 0.0.0.0:68)

ETH_P_IP = 0x0800


class PacketSocket(Transport):
    """An AF_PACKET socket bound to one interface of the namespace the calling thread is in."""

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        # protocol 0 at creation, ETH_P_IP at bind: no frames from other interfaces queue up in between
        self.sock = _socket.socket(_socket.AF_PACKET, _socket.SOCK_DGRAM, 0)
        try:
            self.sock.bind((ifname, ETH_P_IP))
            self.sock.setblocking(False)
        except OSError:
            self.sock.close()
            raise
        self._ident = random.randrange(0x10000)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, m: Message, dst: bytes, src: bytes = b"\0\0\0\0") -> None:
        self._ident = (self._ident + 1) & 0xFFFF
        pkt = p4.udp_ip_packet(m.encode(), src, dst, ident=self._ident)
        self.sock.sendto(pkt, (self.ifname, ETH_P_IP, 0, 0, p4.BROADCAST_MAC))

    def recv(self, timeout: float) -> Message | None:
        end_wait = timeout
        while True:
            r, _, _ = select.select([self.sock], [], [], max(0.0, end_wait))
            if not r:
                return None
            try:
                data = self.sock.recv(65535)
            except BlockingIOError:
                continue
            payload = p4.parse_udp_ip(data)
            if payload is None:
                end_wait = 0.0  # keep draining whatever is queued, but do not wait again for strangers
                continue
            try:
                return p4.Message.decode(payload)
            except p4.PacketError:
                end_wait = 0.0
                continue
