"""One container interface's DHCP lease inside the daemon: acquire it (in the container's netns, on the lease's own
worker thread), keep it (renew at T1, rebind at T2, end when the link is gone), release it, and hand its state to
the daemon to persist and re-adopt after a restart. The RPC, the lease map and the config parsing are the daemon's.

Time bounds: `timeout` is HEAD's per-try read timeout (doubling over 3 sends), `resend_max` caps the retry
backoff, `resend_timeout` bounds one whole acquire, renew or rebind (HEAD's -timeout/-resendmax/-resendtimeout).
So acquire() and adopt() return or raise within resend_timeout (plus a few seconds for the netns and link steps).
"""

from __future__ import annotations

import random
import threading
import time

from pycni.gofmt import log_printf, q
from pycni.linux.addr import addr_list
from pycni.linux.link import link_by_name, link_set_down, link_set_up
from pycni.netlink.codec import IFA_F_DADFAILED, IFA_F_TENTATIVE
from pycni.netlink.netns import NetNSError, NSPathNotExistError, netns
from pycni.netlink.socket import LinkNotFoundError, NetlinkError
from pycni.plugins.ipam.dhcp import client4 as c4
from pycni.plugins.ipam.dhcp import client6 as c6
from pycni.plugins.ipam.dhcp import packet4 as p4

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pycni.netlink.codec import Link

STATE_VERSION = 1
LINK_CHECK_INTERVAL = 30.0  # how often a bound lease looks for its link between renewals
RELEASE_WAIT = 5.0  # release()/stop() wait at most this long for the worker to finish
IFF_UP, IFF_LOWER_UP = 0x1, 0x10000
AF_INET6, SCOPE_LINK = 10, 253
LOWER_UP_WAIT = 2.0


class LeaseConfig:
    """Everything one lease needs, resolved by the daemon from the CNI call and its own flags.

    client_id: HEAD's clientID (`containerID/netName/ifName`, at most 254 bytes) without the type byte;
    empty = derived from container_id/net_name/ifname. Option 61 is 0x00 + this, unless `provide` has a 61.
    request: (option code, skipDefault) in config order; provide: (option code, value), later entries win.
    priority: ipam.priority, set on every route when non-zero. cancel: an Event that aborts an acquire.
    """

    __slots__ = (
        "broadcast",
        "cancel",
        "client_id",
        "container_id",
        "ifname",
        "ipv6",
        "multipath_routers",
        "net_name",
        "netns",
        "priority",
        "provide",
        "request",
        "resend_max",
        "resend_timeout",
        "timeout",
    )

    def __init__(self, container_id: str, net_name: str, ifname: str, netns: str, *, broadcast: bool = False,
                 timeout: float = 10.0, resend_max: float = 62.0, resend_timeout: float = 208.0,
                 request: list[tuple[int, bool]] | None = None, provide: list[tuple[int, bytes]] | None = None,
                 client_id: bytes = b"", multipath_routers: bool = False, ipv6: bool = False, priority: int = 0,
                 cancel: threading.Event | None = None) -> None:
        self.container_id, self.net_name, self.ifname, self.netns = container_id, net_name, ifname, netns
        self.broadcast, self.timeout, self.resend_max = broadcast, timeout, resend_max
        self.resend_timeout = resend_timeout
        self.request: list[tuple[int, bool]] = list(request or [])
        self.provide: list[tuple[int, bytes]] = list(provide or [])
        self.client_id = client_id or f"{container_id}/{net_name}/{ifname}".encode()[:254]
        self.multipath_routers, self.ipv6, self.priority, self.cancel = multipath_routers, ipv6, priority, cancel

    @property
    def cid_text(self) -> str:
        return self.client_id.decode("utf-8", "replace")


class LeaseError(Exception):
    """An acquire or adopt failed; str() is the text for the CNI error."""


class _LinkGone(Exception):
    """The netns or the link is gone: maintenance ends."""


def _log(cfg: LeaseConfig, template: str, *args: object) -> None:
    log_printf("%v: " + template, cfg.cid_text, *args)


def _wall(mono: float) -> float:
    return time.time() + (mono - time.monotonic())


def _mono(wall: float) -> float:
    return time.monotonic() + (wall - time.time())


def _time_text(mono: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(_wall(mono)))


def _wait_lower_up(link: Link, ifname: str) -> Link:
    """Up to LOWER_UP_WAIT for the carrier: until linkwatch activates the qdisc (it may defer that by up to a
    second after the link is set up) frames are silently dropped, and the first DISCOVER with them."""
    end = time.monotonic() + LOWER_UP_WAIT
    while not link.flags & IFF_LOWER_UP and time.monotonic() < end:
        time.sleep(0.02)
        try:
            link = link_by_name(ifname)
        except NetlinkError:
            break
    return link


class _InLink:
    """`with _InLink(lease) as link:` runs the body in the lease's netns with its link looked up (set up when
    down, on the first acquire). _LinkGone when the namespace or the link has gone away (or the link now has
    another MAC than the lease); LeaseError for other failures."""

    def __init__(self, lease: Lease, set_up: bool = False) -> None:
        self.lease, self.set_up = lease, set_up
        self._ns: netns | None = None

    def __enter__(self) -> Link:
        cfg = self.lease.cfg
        ns = netns(cfg.netns)
        try:
            ns.__enter__()
        except NSPathNotExistError as e:
            raise _LinkGone(str(e)) from None
        except NetNSError as e:
            raise LeaseError(str(e)) from None
        self._ns = ns
        try:
            try:
                link = link_by_name(cfg.ifname)
            except LinkNotFoundError as e:
                raise _LinkGone(f"error looking up {q(cfg.ifname)}: {e}") from None
            except NetlinkError as e:
                raise LeaseError(f"error looking up {q(cfg.ifname)}: {e}") from None
            mac = p4.mac_bytes(link.address) if link.address else b""
            if self.lease.mac and mac != self.lease.mac:
                raise _LinkGone(f"link {q(cfg.ifname)} now has another hardware address")
            if self.set_up and not link.flags & IFF_UP:
                log_printf("Link %q down. Attempting to set up", cfg.ifname)
                try:
                    link_set_up(link.index)
                except NetlinkError as e:
                    raise LeaseError(str(e)) from None
            if self.set_up:
                link = _wait_lower_up(link, cfg.ifname)
            return link
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(self, *exc: object) -> None:
        ns, self._ns = self._ns, None
        if ns is not None:
            ns.__exit__(None, None, None)


class _Family:
    """What the maintenance loop needs from one address family."""

    name = ""
    timers: c4.Timers

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self.cfg = lease.cfg

    def acquire(self, deadline: float, set_up: bool) -> None:
        raise NotImplementedError

    def renew(self, deadline: float) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def _attempt(self, fn: Callable[[float], None], deadline: float) -> None:
        """fn(deadline) with HEAD's backoff between failures, until the deadline ("no more tries")."""
        delays = c4.backoff_delays(self.cfg.resend_max)
        lease = self.lease
        while True:
            try:
                fn(deadline)
                return
            except c4.ExchangeFailed as e:
                _log(self.cfg, "%v", f"{self.name}{e}")
            except TimeoutError:
                raise LeaseError(c4.NO_MORE_TRIES) from None
            except OSError as e:  # the socket could not be opened or written: worth another try
                _log(self.cfg, "%v", f"{self.name}{e}")
            d = next(delays)
            if time.monotonic() + d >= deadline:
                raise LeaseError(c4.NO_MORE_TRIES)
            log_printf("retrying in %f seconds", d)
            if lease._wait_stop(d):
                raise c4.Cancelled()


class _Family4(_Family):
    name = ""

    def __init__(self, lease: Lease) -> None:
        super().__init__(lease)
        self.ack: p4.Message | None = None
        cfg = self.cfg
        self.client_id = b"\0" + cfg.client_id
        for code, value in cfg.provide:  # a provided 61 is the identity, RELEASE included (HEAD: only DORA)
            if code == p4.OPT_CLIENT_ID:
                self.client_id = value
        self.prl = p4.build_prl(cfg.request)

    def _params(self) -> c4.Params:
        return c4.Params(self.lease.mac, self.client_id, self.prl, self.cfg.provide, self.cfg.broadcast)

    def _exchange(self, kind: str, deadline: float, set_up: bool) -> None:
        lease = self.lease
        with _InLink(lease, set_up) as link:
            if not lease.mac:
                lease.mac = p4.mac_bytes(link.address or "00:00:00:00:00:00")
            xid = random.getrandbits(32) if kind == "select" else self.ack.xid if self.ack else 0
            ex = c4.Exchange(self._params(), kind, xid, self.cfg.timeout, self.ack)
            with c4.PacketSocket(self.cfg.ifname) as sock:
                ack = c4.run_exchange(ex, sock, time.monotonic, deadline, lease._stopping)
        self.commit(ack, time.monotonic())

    def commit(self, ack: p4.Message, now: float) -> None:
        with self.lease._lock:
            self.ack, self.timers = ack, c4.timers_from_ack(ack, now)

    def acquire(self, deadline: float, set_up: bool = False) -> None:
        self._attempt(lambda d: self._exchange("select", d, set_up), deadline)

    def renew(self, deadline: float) -> None:
        self._attempt(lambda d: self._exchange("renew", d, False), deadline)

    def release(self) -> None:
        if self.ack is None:
            return
        _log(self.cfg, "releasing lease")
        ack = self.ack
        sid = ack.opt(p4.OPT_SERVER_ID)
        m = p4.release(ack, random.getrandbits(32), self.lease.mac, self.client_id)
        try:
            with _InLink(self.lease), c4.PacketSocket(self.cfg.ifname) as sock:
                # From the bound address, not 0.0.0.0 as HEAD: Linux drops a unicast datagram from 0.0.0.0 as a
                # martian, so HEAD's RELEASE never reaches a server on Linux (measured with dnsmasq).
                sock.send(m, sid if sid and len(sid) == 4 else b"\xff\xff\xff\xff", ack.yiaddr)
        except (_LinkGone, LeaseError, OSError) as e:
            _log(self.cfg, "failed to release DHCP lease: %v", e)

    def state(self) -> dict[str, Any]:
        assert self.ack is not None
        t = self.timers
        return {"ack": self.ack.encode().hex(), "obtained": _wall(t.obtained), "t1": _wall(t.t1),
                "t2": _wall(t.t2), "expiry": _wall(t.expiry)}

    def load(self, st: dict[str, Any]) -> None:
        self.ack = p4.Message.decode(bytes.fromhex(st["ack"]))
        self.timers = c4.Timers(_mono(float(st["obtained"])), _mono(float(st["t1"])), _mono(float(st["t2"])),
                                _mono(float(st["expiry"])))

    def ipnet(self) -> tuple[str, str | None]:
        """(address/prefix, gateway); LeaseError when the ACK has no subnet mask (HEAD's text)."""
        ack = self.ack
        assert ack is not None
        mask = p4.subnet_mask(ack)
        if mask is None:
            raise LeaseError("DHCP option Subnet Mask not found in DHCPACK")
        plen = p4.mask_prefix(mask)
        ip = p4.ip_text(ack.yiaddr)
        rs = p4.routers(ack)
        return (f"{ip}/{plen}" if plen is not None else f"{ip}/{mask.hex()}"), (rs[0] if rs else None)

    def routes(self) -> list[dict[str, Any]]:
        """HEAD's Routes(): option 121 alone when present (0.0.0.0 router -> scope 253); otherwise option 33
        with classful masks, then a default route via the first router (every router with multipath_routers)."""
        ack = self.ack
        assert ack is not None
        out: list[dict[str, Any]] = []
        classless = p4.classless_routes(ack)
        if classless:
            for dst, plen, gw in classless:
                r: dict[str, Any] = {"dst": f"{dst}/{plen}", "gw": gw}
                if gw == "0.0.0.0":
                    r["scope"] = 253
                out.append(r)
            return out
        for dst, cplen, gw in p4.static_routes(ack):
            if cplen is not None:  # class D/E: HEAD builds an unprintable route ("<nil>"); skipped here
                out.append({"dst": f"{dst}/{cplen}", "gw": gw})
        rs = p4.routers(ack)
        for gw in (rs if self.cfg.multipath_routers else rs[:1]):
            out.append({"dst": "0.0.0.0/0", "gw": gw})
        return out


class _Family6(_Family):
    name = "DHCPv6: "

    def __init__(self, lease: Lease) -> None:
        super().__init__(lease)
        self.duid = c6.duid_for(self.cfg.client_id)
        self.iaid = c6.iaid_for(self.cfg.client_id)
        self.ia: c6.IANA | None = None
        self.server_id: bytes | None = None

    def _exchange(self, kind: str, deadline: float, set_up: bool) -> c6.Exchange6:
        lease = self.lease
        with _InLink(lease, set_up) as link:
            ex = c6.Exchange6(kind, random.getrandbits(24), self.duid, self.iaid, self.cfg.timeout, self.ia,
                              self.server_id)
            # a RELEASE is sent while stopping: it must not be cut short by the stop itself
            stopped = (lambda: False) if kind == "release" else lease._stopping
            _wait_link_local(link.index, deadline, stopped)
            with c6.UdpSocket6(self.cfg.ifname, link.index) as sock:
                return c6.run_exchange6(ex, sock, time.monotonic, deadline, stopped)

    def _bind(self, kind: str, deadline: float, set_up: bool) -> None:
        ex = self._exchange(kind, deadline, set_up)
        assert ex.ia is not None
        with self.lease._lock:
            self.ia, self.server_id = ex.ia, ex.server_id
            self.timers = c6.timers_from_ia(ex.ia, time.monotonic())

    def acquire(self, deadline: float, set_up: bool = False) -> None:
        self._attempt(lambda d: self._bind("solicit", d, set_up), deadline)

    def renew(self, deadline: float) -> None:
        # RENEW to the server until T2, REBIND to any server after it (RFC 8415 18.2.4/18.2.5)
        kind = "rebind" if time.monotonic() >= self.timers.t2 else "renew"
        self._attempt(lambda d: self._bind(kind, d, False), deadline)

    def release(self) -> None:
        if self.ia is None:
            return
        _log(self.cfg, "releasing DHCPv6 lease")
        try:
            self._exchange("release", time.monotonic() + min(self.cfg.timeout, 2.0) * 1.5, False)
        except (_LinkGone, LeaseError, c4.ExchangeFailed, TimeoutError, c4.Cancelled, OSError) as e:
            _log(self.cfg, "failed to release DHCPv6 lease: %v", e)

    def state(self) -> dict[str, Any]:
        ia, t = self.ia, self.timers
        assert ia is not None and self.server_id is not None
        return {"address": ia.address, "t1": _wall(t.t1), "t2": _wall(t.t2), "expiry": _wall(t.expiry),
                "obtained": _wall(t.obtained), "preferred": ia.preferred, "valid": ia.valid,
                "server_id": self.server_id.hex()}

    def load(self, st: dict[str, Any]) -> None:
        self.ia = c6.IANA(self.iaid, 0, 0, str(st["address"]), int(st["preferred"]), int(st["valid"]))
        self.server_id = bytes.fromhex(st["server_id"])
        self.timers = c4.Timers(_mono(float(st["obtained"])), _mono(float(st["t1"])), _mono(float(st["t2"])),
                                _mono(float(st["expiry"])))


def _wait_link_local(ifindex: int, deadline: float, stopped: Callable[[], bool]) -> None:
    """Until the link has a link-local IPv6 address past DAD (the source every DHCPv6 message needs; a SOLICIT
    sent before it is silently lost) or the deadline passes; the exchange's own timeouts handle the rest."""
    while time.monotonic() < deadline and not stopped():
        try:
            addrs = addr_list(ifindex, AF_INET6)
        except NetlinkError:
            return
        if any(a.scope == SCOPE_LINK and not a.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED) for a in addrs):
            return
        time.sleep(0.05)


class Lease:
    """A held lease: result(), state() for persistence, alive(), release(), stop(). One worker thread per
    address family runs the maintenance; on_change (if set) is called from it after each renewal or rebind."""

    def __init__(self, cfg: LeaseConfig) -> None:
        self.cfg = cfg
        self.mac = b""
        self._on_change: Callable[[], None] | None = None
        self._missed_change = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._release = False
        self._wakes: list[threading.Event] = []  # one per maintenance thread: a shared one could be cleared
        # by one thread right after a stop set it, and the other would then sleep through the stop
        self.v4 = _Family4(self)
        self.v6 = _Family6(self) if cfg.ipv6 else None
        self._threads: list[threading.Thread] = []

    # -- public -----------------------------------------------------------------------------------------------

    @property
    def on_change(self) -> Callable[[], None] | None:
        """Called (from the worker thread) after each renewal or rebind. A change that happened before the
        callback was set (a renewal right after adopt) is reported as soon as it is set."""
        return self._on_change

    @on_change.setter
    def on_change(self, cb: Callable[[], None] | None) -> None:
        with self._lock:
            self._on_change = cb
            missed = cb is not None and self._missed_change
            if missed:
                self._missed_change = False
        if missed and cb is not None:
            self._call(cb)

    def result(self) -> dict[str, Any]:
        """The CNI 1.1.0 result as HEAD builds it (plus the DHCPv6 address when enabled)."""
        with self._lock:
            address, gw = self.v4.ipnet()
            ip: dict[str, Any] = {"address": address}
            if gw is not None:
                ip["gateway"] = gw
            ips = [ip]
            routes = self.v4.routes()
            if self.v6 is not None and self.v6.ia is not None:
                ips.append({"address": f"{self.v6.ia.address}/128"})
        if self.cfg.priority:
            for r in routes:
                r["priority"] = self.cfg.priority
        return {"cniVersion": "1.1.0", "ips": ips, "routes": routes, "dns": {}}

    def state(self) -> dict[str, Any]:
        """JSON-able: enough for adopt() to resume renewing and later release this lease."""
        with self._lock:
            st: dict[str, Any] = {"version": STATE_VERSION, "client_id": self.cfg.client_id.hex(),
                                  "netns": self.cfg.netns, "ifname": self.cfg.ifname, "mac": self.mac.hex(),
                                  "v4": self.v4.state()}
            if self.v6 is not None and self.v6.ia is not None:
                st["v6"] = self.v6.state()
        return st

    def alive(self) -> bool:
        """True while every family's maintenance runs (False once stopped, released, expired or link gone)."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads) and not self._stop.is_set()

    def check(self) -> None:
        """Non-blocking nudge (HEAD's Check without its hang): the loop looks for the link right away."""
        for w in self._wakes:
            w.set()

    def release(self) -> None:
        """Send DHCPRELEASE (and a DHCPv6 RELEASE) and end maintenance; returns within a few seconds."""
        self._release = True
        self._finish()

    def stop(self) -> None:
        """End maintenance without releasing (daemon shutdown: the state file keeps the lease)."""
        self._finish()

    # -- internals --------------------------------------------------------------------------------------------

    def _finish(self) -> None:
        self._stop.set()
        for w in self._wakes:
            w.set()
        end = time.monotonic() + RELEASE_WAIT + (3.0 if self.v6 is not None else 0.0)
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(max(0.0, end - time.monotonic()))

    def _stopping(self) -> bool:
        c = self.cfg.cancel
        return self._stop.is_set() or (c is not None and c.is_set())

    def _wait_stop(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when a stop (or the config's cancel) came."""
        end = time.monotonic() + seconds
        while not self._stopping():
            left = end - time.monotonic()
            if left <= 0:
                return False
            self._stop.wait(min(left, 0.5))
        return True

    def _start(self, fam: _Family, first: Callable[[], None], ready: threading.Event,
               errors: list[BaseException]) -> None:
        def run() -> None:
            try:
                first()
            except BaseException as e:  # noqa: BLE001 - handed to the caller of acquire/adopt
                errors.append(e)
                ready.set()
                return
            ready.set()
            self._maintain(fam)

        t = threading.Thread(target=run, name=f"dhcp{fam.name and '6'} {self.cfg.cid_text}", daemon=True)
        self._threads.append(t)
        t.start()

    def _run_all(self, firsts: list[tuple[_Family, Callable[[], None]]]) -> None:
        """Start one worker per family with its first step; wait (bounded) until all are through it."""
        pending = []
        for fam, first in firsts:
            ready = threading.Event()
            errors: list[BaseException] = []
            self._start(fam, first, ready, errors)
            pending.append((fam, ready, errors))
        limit = time.monotonic() + self.cfg.resend_timeout + 10.0
        failure: str | None = None
        for fam, ready, errors in pending:
            if not ready.wait(max(0.0, limit - time.monotonic())):
                failure = failure or c4.NO_MORE_TRIES
            elif errors:
                e = errors[0]
                text = c4.NO_MORE_TRIES if isinstance(e, c4.Cancelled) else str(e)
                failure = failure or (fam.name + text if fam.name and not text.startswith(fam.name) else text)
            if failure is not None:
                # stop the other family now (it may still be waiting) and give back whatever did bind
                # (HEAD stops, and so releases, a lease it cannot use)
                self._release = True
                self._stop.set()
        if failure is not None:
            self._finish()
            raise LeaseError(failure)

    def _wait_mac(self, seconds: float) -> None:
        """Until the v4 worker has looked the link up (and set it up): v6 then needs no second attempt."""
        end = time.monotonic() + seconds
        while not self.mac and not self._stopping() and time.monotonic() < end:
            time.sleep(0.05)

    def _acquire_first(self, fam: _Family) -> None:
        fam.acquire(time.monotonic() + self.cfg.resend_timeout, set_up=True)

    def _maintain(self, fam: _Family) -> None:
        cfg = self.cfg
        wake = threading.Event()
        self._wakes.append(wake)
        m = c4.Maintenance(fam.timers)
        now = time.monotonic()
        if now >= fam.timers.expiry or now >= fam.timers.t2:  # adopted after a long downtime
            m.state = c4.REBINDING
        failing_since, check_failures = 0.0, 0
        try:
            while True:
                wake.clear()  # before the stop check: a stop/check set after it still wakes the wait
                if self._stopping():
                    break
                try:
                    with _InLink(self):
                        pass
                except _LinkGone:
                    _log(cfg, "interface %v no longer exists or link check failed, terminating lease maintenance",
                         cfg.ifname)
                    return
                except LeaseError as e:
                    # HEAD retries other link-check failures (1, 2, 4 ... 16 s apart) until -resendtimeout
                    now = time.monotonic()
                    failing_since = failing_since or now
                    if now - failing_since >= cfg.resend_timeout:
                        _log(cfg, "interface %v no longer exists or link check failed, terminating lease "
                             "maintenance", cfg.ifname)
                        return
                    _log(cfg, "%v", e)
                    pause = min(16.0, 2.0 ** check_failures)
                    check_failures += 1
                    if self._wait_stop(pause):
                        break
                    continue
                failing_since, check_failures = 0.0, 0
                action, wait = m.next_action(time.monotonic())
                if action == "wait":
                    wake.wait(min(wait, LINK_CHECK_INTERVAL))
                    continue
                deadline = time.monotonic() + cfg.resend_timeout
                if action == "renew":
                    _log(cfg, "renewing %slease", fam.name and "DHCPv6 ")
                    try:
                        fam.renew(deadline)
                        m.renewed(fam.timers, time.monotonic())
                        _log(cfg, "lease renewed, expiration is %v", _time_text(fam.timers.expiry))
                        self._changed()
                    except LeaseError as e:
                        _log(cfg, "%v", e)
                        m.renewed(None, time.monotonic())
                        if m.state == c4.REBINDING:
                            _log(cfg, "renewal time expired, rebinding")
                elif action == "rebind":
                    try:
                        fam.acquire(deadline) if fam is self.v4 else fam.renew(deadline)
                        m.rebound(fam.timers, time.monotonic())
                        _log(cfg, "lease rebound, expiration is %v", _time_text(fam.timers.expiry))
                        self._changed()
                    except LeaseError as e:
                        _log(cfg, "%v", e)
                        m.rebound(None, time.monotonic())
                else:
                    _log(cfg, "lease expired, bringing interface DOWN")
                    try:
                        with _InLink(self) as link:
                            link_set_down(link.index)
                    except (_LinkGone, LeaseError, NetlinkError) as e:
                        _log(cfg, "failed to bring %v interface DOWN: %v", cfg.ifname, e)
                    return
        except (c4.Cancelled, _LinkGone):
            pass
        if self._release:
            fam.release()

    def _changed(self) -> None:
        with self._lock:
            cb = self._on_change
            if cb is None:
                self._missed_change = True
        if cb is not None:
            self._call(cb)

    def _call(self, cb: Callable[[], None]) -> None:
        try:
            cb()
        except Exception as e:  # noqa: BLE001 - the daemon's persistence failing must not end the lease
            _log(self.cfg, "on_change: %v", e)


def acquire(cfg: LeaseConfig) -> Lease:
    """DISCOVER/REQUEST in the container's netns (and DHCPv6 SOLICIT/REQUEST when cfg.ipv6), then keep the lease.
    LeaseError (HEAD's texts: "no more tries", "error looking up ...", "DHCP option Subnet Mask not found in
    DHCPACK", netns errors) within cfg.resend_timeout."""
    lease = Lease(cfg)
    _log(cfg, "acquiring lease")
    firsts: list[tuple[_Family, Callable[[], None]]] = [(lease.v4, lambda: lease._acquire_first(lease.v4))]
    if lease.v6 is not None:
        v6 = lease.v6
        # v6 waits for v4 to have set the link up, so only one thread ever does it
        def first6() -> None:
            lease._wait_mac(cfg.resend_timeout)
            v6.acquire(time.monotonic() + cfg.resend_timeout)

        firsts.append((v6, first6))
    lease._run_all(firsts)
    try:
        lease.v4.ipnet()
    except LeaseError:
        lease.release()
        raise
    _log(cfg, "lease acquired, expiration is %v", _time_text(lease.v4.timers.expiry))
    return lease


def adopt(state: dict[str, Any], cfg: LeaseConfig) -> Lease:
    """Resume a lease persisted by state() (after a daemon restart): its link must still be there with the same
    MAC; renewals continue from the saved timers (a lease past T2 or expired rebinds at once), and a later
    release() sends DHCPRELEASE. LeaseError when the state is unusable or the link is gone."""
    try:
        if int(state.get("version", 0)) != STATE_VERSION:
            raise LeaseError(f"unsupported lease state version {state.get('version')!r}")
        lease = Lease(cfg)
        lease.mac = bytes.fromhex(state["mac"])
        lease.v4.load(state["v4"])
        if lease.v6 is not None:
            if "v6" in state:
                lease.v6.load(state["v6"])
            else:
                lease.v6 = None  # the lease was taken without DHCPv6: keep it that way
    except LeaseError:
        raise
    except (KeyError, TypeError, ValueError, p4.PacketError) as e:
        raise LeaseError(f"bad lease state: {e}") from None

    def check() -> None:
        with _InLink(lease):
            pass

    def first(fam: _Family) -> Callable[[], None]:
        def run() -> None:
            try:
                check()
            except _LinkGone as e:
                raise LeaseError(str(e)) from None
        return run

    fams: list[_Family] = [lease.v4] + ([lease.v6] if lease.v6 is not None else [])
    lease._run_all([(f, first(f)) for f in fams])
    _log(cfg, "lease adopted, expiration is %v", _time_text(lease.v4.timers.expiry))
    return lease

