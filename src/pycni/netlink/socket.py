"""Thin NETLINK_ROUTE socket: send a request, wait for its ACK or collect a dump; map kernel errnos.

A socket talks to the network namespace of the thread that *created* it, so open one after entering a
namespace and never cache it across namespaces. No message building here (see codec.py).
"""

from __future__ import annotations

import _socket
import errno as _errno
import sys as _sys

from pycni.gofmt import errno_text, sprintf
from pycni.netlink import codec as c

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

DUMP_ATTEMPTS = 5
_RECV_SIZE = 1 << 17
_TIMEOUT = 30.0




class NetlinkError(OSError):
    """A kernel netlink error. str() is Go-like ("file exists"); `ext_ack` holds the kernel's extra text."""

    def __init__(self, err: int, message: str | None = None, ext_ack: str | None = None) -> None:
        super().__init__(err, message if message is not None else errno_text(err))
        self.ext_ack = ext_ack

    @property
    def message(self) -> str:
        return str(self.strerror)

    def __str__(self) -> str:
        return self.message


class wrap:  # noqa: N801 - used as a `with` statement, like a function
    """`with wrap("failed to lookup %q", name):` turns a kernel error into upstream's plugin error,
    ValueError("<template with args>: <kernel text>") (code 999 at skel), as Go's fmt.Errorf("...: %v").
    `error=` builds another exception from that text (a verb's own error class, or a CNIError)."""

    __slots__ = ("template", "args", "error")

    def __init__(self, template: str, *args: object, error: Callable[[str], BaseException] = ValueError) -> None:
        self.template = template
        self.args = args
        self.error = error

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if isinstance(exc, NetlinkError):
            raise self.error(f"{sprintf(self.template, *self.args)}: {exc}") from None


class ExistsError(NetlinkError):
    """EEXIST."""


class NotFoundError(NetlinkError):
    """ENOENT."""


class NoProcessError(NetlinkError):
    """ESRCH (e.g. deleting a route or address that is not there)."""


class NoDeviceError(NetlinkError):
    """ENODEV."""


class LinkNotFoundError(NoDeviceError):
    """A link lookup found nothing; text as the Go netlink library's "Link not found"."""

    def __init__(self, message: str = "Link not found") -> None:
        super().__init__(_errno.ENODEV, message)


_BY_ERRNO: dict[int, type[NetlinkError]] = {
    _errno.EEXIST: ExistsError,
    _errno.ENOENT: NotFoundError,
    _errno.ESRCH: NoProcessError,
    _errno.ENODEV: NoDeviceError,
}


def netlink_error(err: int, ext_ack: str | None = None) -> NetlinkError:
    """The exception class for a positive errno."""
    return _BY_ERRNO.get(err, NetlinkError)(err, None, ext_ack)


class NetlinkSocket:
    """One AF_NETLINK/NETLINK_ROUTE socket, bound in the namespace current at construction."""

    def __init__(self) -> None:
        sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, c.NETLINK_ROUTE)
        try:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, 1 << 20)
            try:
                # Kernel error text (extended ACK) for diagnostics only; messages stay Go-like.
                sock.setsockopt(c.SOL_NETLINK, c.NETLINK_EXT_ACK, 1)
            except OSError:
                pass
            sock.bind((0, 0))
            sock.settimeout(_TIMEOUT)
            self.portid: int = sock.getsockname()[0]
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> NetlinkSocket:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def _send(self, msg_type: int, flags: int, payload: bytes) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF or 1
        self._sock.send(c.pack_msg(msg_type, flags | c.NLM_F_REQUEST, self._seq, payload, self.portid))
        return self._seq

    def _recv(self) -> list[c.NlMsg]:
        data, _anc, mflags, addr = self._sock.recvmsg(_RECV_SIZE)
        if mflags & _socket.MSG_TRUNC:
            raise NetlinkError(_errno.EMSGSIZE, "netlink reply truncated")
        if addr and addr[0] != 0:  # only the kernel (port 0) may answer
            return []
        return c.parse_messages(data)

    def _collect(self, seq: int) -> tuple[list[c.NlMsg], bool]:
        """Messages for seq until ACK/DONE/error; also whether any carried NLM_F_DUMP_INTR."""
        out: list[c.NlMsg] = []
        intr = False
        while True:
            for m in self._recv():
                if m.seq != seq or (m.pid != self.portid and m.pid != 0):
                    continue  # a stale reply to an earlier request
                if m.flags & c.NLM_F_DUMP_INTR:
                    intr = True
                if m.type == c.NLMSG_ERROR:
                    err, ext = c.parse_error(m)
                    if err:
                        raise netlink_error(err, ext)
                    return out, intr
                if m.type == c.NLMSG_DONE:
                    if len(m.payload) >= 4:  # a dump can end with an error code in DONE
                        code = int.from_bytes(m.payload[:4], _sys.byteorder, signed=True)
                        if code < 0:
                            raise netlink_error(-code)
                    return out, intr
                if m.type == c.NLMSG_NOOP:
                    continue
                # Data; a non-multipart GET reply is followed by the ACK we asked for.
                out.append(m)

    def request(self, msg_type: int, payload: bytes, flags: int = 0) -> None:
        """Send a change request (NEW*/DEL*/SET*) and wait for the kernel's ACK; raise NetlinkError on error."""
        seq = self._send(msg_type, flags | c.NLM_F_ACK, payload)
        self._collect(seq)

    def query(self, msg_type: int, payload: bytes, flags: int = 0) -> list[c.NlMsg]:
        """Send a non-dump GET and return its reply messages (the ACK is consumed)."""
        seq = self._send(msg_type, flags | c.NLM_F_ACK, payload)
        return self._collect(seq)[0]

    def dump(self, msg_type: int, payload: bytes, attempts: int = DUMP_ATTEMPTS) -> list[c.NlMsg]:
        """A full dump. An interrupted dump (NLM_F_DUMP_INTR) is restarted, up to `attempts` times in all;
        after that the last, possibly inconsistent, data is returned, as the reference's netlinksafe does."""
        msgs: list[c.NlMsg] = []
        for _ in range(max(1, attempts)):
            seq = self._send(msg_type, c.NLM_F_DUMP, payload)
            msgs, intr = self._collect(seq)
            if not intr:
                break
        return msgs


class scoped:  # noqa: N801 - used like a function: `with scoped(nl) as s:`
    """The caller's socket, or a fresh one (closed on exit) in the current namespace."""

    __slots__ = ("_given", "_own")

    def __init__(self, nl: NetlinkSocket | None) -> None:
        self._given = nl
        self._own: NetlinkSocket | None = None

    def __enter__(self) -> NetlinkSocket:
        if self._given is not None:
            return self._given
        self._own = NetlinkSocket()
        return self._own

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._own is not None:
            self._own.close()
