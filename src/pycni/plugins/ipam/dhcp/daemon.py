"""`dhcp daemon`: the long-running process that owns the DHCP leases and serves DHCP.Allocate / DHCP.Release.

Flags, listener (own socket or systemd socket activation), pidfile, signals, the lease map, and the
persisted lease store that lets leases survive a restart. The DHCP client itself (acquire, renew,
release) is `lease.py`'s; nothing here builds packets or enters a namespace.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import stat
import sys
import threading

from pycni.atomicfile import write_atomic
from pycni.gofmt import errno_text, log_printf, q

from . import flags as F
from . import rpc
from .config import ConfigError, lease_fields
from .wire import EMPTY, RESULT, result_to_gob

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

DEFAULT_SOCKET_PATH = "/run/cni/dhcp.sock"
DEFAULT_STATE_DIR = "/run/cni/dhcp-leases"
SD_LISTEN_FDS_START = 3

FLAGS = [
    F.Flag("pidfile", F.STRING, "", "optional path to write daemon PID to"),
    F.Flag("hostprefix", F.STRING, "", "optional prefix to host root"),
    F.Flag("socketpath", F.STRING, "", "optional dhcp server socketpath"),
    F.Flag("broadcast", F.BOOL, False, "broadcast DHCP leases"),
    F.Flag("timeout", F.DURATION, 10.0, "optional dhcp client timeout duration"),
    F.Flag("resendmax", F.DURATION, 62.0, "optional dhcp client resend max duration"),
    F.Flag("resendtimeout", F.DURATION, 208.0, "optional dhcp client resend timeout duration"),
    F.Flag("statedir", F.STRING, DEFAULT_STATE_DIR,
           "directory where leases are persisted across restarts, under -hostprefix (\"\" disables)"),
]


class DaemonError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The persisted lease store: one JSON file per lease, written atomically


class LeaseStore:
    """<dir>/<sha256(client-id)>.json holding what re-adoption needs: the conf-derived lease fields,
    and the client's own lease state. A None directory stores nothing."""

    def __init__(self, directory: str | None) -> None:
        self.dir = directory
        if directory:
            os.makedirs(directory, mode=0o700, exist_ok=True)

    def _path(self, key: str) -> str:
        assert self.dir is not None
        return os.path.join(self.dir, hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest() + ".json")

    def save(self, key: str, fields: dict[str, Any], state: dict[str, Any]) -> None:
        if not self.dir:
            return
        record = {"version": 1, "clientID": key, "config": _jsonable(fields), "lease": state}
        write_atomic(self._path(key), json.dumps(record, sort_keys=True).encode(), 0o600)

    def delete(self, key: str) -> None:
        if not self.dir:
            return
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass

    def load(self) -> list[dict[str, Any]]:
        """Every readable record; unreadable ones are logged and removed (they cannot be re-adopted)."""
        if not self.dir:
            return []
        out = []
        for name in sorted(os.listdir(self.dir)):
            if not name.endswith(".json") or name.startswith("."):
                continue
            path = os.path.join(self.dir, name)
            try:
                with open(path, "rb") as f:
                    record = json.loads(f.read())
                record["config"] = _from_jsonable(record["config"])
                if not isinstance(record.get("clientID"), str) or not isinstance(record.get("lease"), dict):
                    raise TypeError("bad record")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log_printf("dropping unreadable lease record %s: %v", path, exc)
                try:
                    os.unlink(path)
                except OSError:
                    pass
                continue
            out.append(record)
        return out


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    out["client_id"] = fields["client_id"].hex()
    out["provide"] = [[code, value.hex()] for code, value in fields["provide"]]
    out["request"] = [[code, skip] for code, skip in fields["request"]]
    return out


def _from_jsonable(d: dict[str, Any]) -> dict[str, Any]:
    out = dict(d)
    out["client_id"] = bytes.fromhex(d["client_id"])
    out["provide"] = [(int(c), bytes.fromhex(v)) for c, v in d["provide"]]
    out["request"] = [(int(c), bool(s)) for c, s in d["request"]]
    return out


# ---------------------------------------------------------------------------------------------
# The DHCP service (the methods the exec calls)


class _Entry:
    __slots__ = ("fields", "lease")

    def __init__(self, lease: Any, fields: dict[str, Any]) -> None:
        self.lease, self.fields = lease, fields


class DHCPService:
    """The lease map behind DHCP.Allocate and DHCP.Release. Calls for one client-id are serialized
    (a concurrent ADD and DEL, or three DELs, see a consistent map); calls for different ones run in
    parallel. No call waits on a lease's maintenance loop."""

    def __init__(self, backend: ModuleType, store: LeaseStore, host_prefix: str = "", broadcast: bool = False,
                 timeout: float = 10.0, resend_max: float = 62.0, resend_timeout: float = 208.0) -> None:
        self.backend = backend
        self.store = store
        self.host_prefix = host_prefix
        self.client = {"broadcast": broadcast, "timeout": timeout, "resend_max": resend_max,
                       "resend_timeout": resend_timeout}
        self._leases: dict[str, _Entry] = {}
        self._mu = threading.Lock()
        self._key_locks: dict[str, list[Any]] = {}  # key -> [lock, users]
        self._acquiring: dict[str, threading.Event] = {}  # key -> cancel of an acquire in progress

    def _lock(self, key: str) -> threading.Lock:
        with self._mu:
            slot = self._key_locks.setdefault(key, [threading.Lock(), 0])
            slot[1] += 1
            return slot[0]

    def _unlock(self, key: str) -> None:
        with self._mu:
            slot = self._key_locks[key]
            slot[0].release()
            slot[1] -= 1
            if slot[1] == 0:
                del self._key_locks[key]

    def _config(self, fields: dict[str, Any], cancel: threading.Event | None = None) -> Any:
        return self.backend.LeaseConfig(**fields, **self.client, cancel=cancel)

    def _watch(self, key: str, entry: _Entry) -> None:
        def changed() -> None:
            with self._mu:
                current = self._leases.get(key)
            if current is entry:
                self._persist(key, entry)

        entry.lease.on_change = changed

    def _persist(self, key: str, entry: _Entry) -> None:
        try:
            self.store.save(key, entry.fields, entry.lease.state())
        except OSError as exc:
            log_printf("%s: could not persist lease: %v", key, exc)

    def allocate(self, args: dict[str, Any]) -> dict[str, Any]:
        """DHCP.Allocate (ADD and CHECK): the existing live lease (nudged, as upstream's Check, but without
        blocking), or a new one. A DEL arriving meanwhile cancels the acquire."""
        try:
            key, fields = lease_fields(args, self.host_prefix)
        except ConfigError as exc:
            raise DaemonError(str(exc)) from None
        self._lock(key).acquire()
        try:
            with self._mu:
                entry = self._leases.get(key)
            if entry is not None and not entry.lease.alive():
                # Maintenance ended (link gone, lease expired): upstream would block here forever.
                log_printf("%s: lease maintenance has ended, acquiring a new lease", key)
                self._drop(key, entry, release=False)
                entry = None
            if entry is None:
                cancel = threading.Event()
                with self._mu:
                    self._acquiring[key] = cancel
                try:
                    lease = self.backend.acquire(self._config(fields, cancel))
                except self.backend.LeaseError as exc:
                    raise DaemonError(str(exc)) from None
                finally:
                    with self._mu:
                        self._acquiring.pop(key, None)
                entry = _Entry(lease, fields)
                with self._mu:
                    self._leases[key] = entry
                self._watch(key, entry)
                self._persist(key, entry)
            else:
                nudge = getattr(entry.lease, "check", None)
                if nudge is not None:
                    nudge()
            result = entry.lease.result()
        finally:
            self._unlock(key)
        return result_to_gob(result)

    def release(self, args: dict[str, Any]) -> dict[str, Any]:
        """DHCP.Release (DEL): DHCPRELEASE and forget the lease; an unknown lease is fine."""
        try:
            key, _ = lease_fields(args, self.host_prefix)
        except ConfigError as exc:
            raise DaemonError(str(exc)) from None
        with self._mu:
            cancel = self._acquiring.get(key)
        if cancel is not None:
            cancel.set()  # an ADD still acquiring for this container gives up now
        self._lock(key).acquire()
        try:
            with self._mu:
                entry = self._leases.get(key)
            if entry is not None:
                self._drop(key, entry, release=True)
        finally:
            self._unlock(key)
        return {}

    def _drop(self, key: str, entry: _Entry, release: bool) -> None:
        with self._mu:
            if self._leases.get(key) is entry:
                del self._leases[key]
        entry.lease.on_change = None
        try:
            if release:
                entry.lease.release()
            else:
                entry.lease.stop()
        except Exception as exc:  # noqa: BLE001 - a failed RELEASE is only logged, as upstream
            log_printf("%s: failed to release DHCP lease: %v", key, exc)
        self.store.delete(key)

    def adopt_all(self) -> int:
        """Re-adopt the persisted leases (after a restart); skip those whose netns is gone."""
        n = 0
        for record in self.store.load():
            key, fields = record["clientID"], record["config"]
            netns = fields.get("netns", "")
            if not netns or not os.path.exists(netns):
                log_printf("%s: netns %s is gone, forgetting its lease", key, q(netns))
                self.store.delete(key)
                continue
            try:
                lease = self.backend.adopt(record["lease"], self._config(fields))
            except Exception as exc:  # noqa: BLE001 - one bad record must not stop the daemon
                log_printf("%s: could not re-adopt lease: %v", key, exc)
                self.store.delete(key)
                continue
            entry = _Entry(lease, fields)
            with self._mu:
                self._leases[key] = entry
            self._watch(key, entry)
            self._persist(key, entry)
            n += 1
        return n

    def stop_all(self) -> None:
        """Daemon shutdown: stop maintenance, keep the leases (no RELEASE) and their records."""
        with self._mu:
            entries = list(self._leases.items())
            self._leases.clear()
            for cancel in self._acquiring.values():
                cancel.set()  # an ADD still acquiring fails now rather than leave an unrecorded lease
        for key, entry in entries:
            entry.lease.on_change = None
            try:
                entry.lease.stop()
            except Exception as exc:  # noqa: BLE001
                log_printf("%s: stopping lease maintenance: %v", key, exc)

    def methods(self) -> dict[str, rpc.Method]:
        return {"DHCP.Allocate": (self.allocate, RESULT), "DHCP.Release": (self.release, EMPTY)}


# ---------------------------------------------------------------------------------------------
# Listener


def activation_fds(env: dict[str, str] | None = None, pid: int | None = None) -> int:
    """How many fds systemd passed (LISTEN_PID must be us); the variables are then unset, as go-systemd."""
    env = os.environ if env is None else env  # type: ignore[assignment]
    assert env is not None
    pid = os.getpid() if pid is None else pid
    try:
        if int(env.get("LISTEN_PID", "")) != pid:
            return 0
        n = int(env.get("LISTEN_FDS", ""))
    except ValueError:
        return 0
    for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        env.pop(k, None)
    return max(n, 0)


def _is_listening_unix(fd: int) -> bool:
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return stat.S_ISSOCK(st.st_mode)


def get_listener(path: str, n_fds: int) -> socket.socket:
    """The inherited socket (socket activation), or a new one bound at `path`.

    A socket file nobody answers on (a crashed daemon's) is removed first; a live one is an error,
    so two daemons never share a path.
    """
    if n_fds == 1:
        fd = SD_LISTEN_FDS_START
        if not _is_listening_unix(fd):
            raise DaemonError("LISTEN_FDS=1 but no FD found")
        os.set_inheritable(fd, False)
        return socket.socket(fileno=fd)
    if n_fds > 1:
        raise DaemonError(f"Too many ({n_fds}) FDs passed through socket activation")
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    _remove_stale(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(path)
        s.listen(128)
    except OSError as exc:
        s.close()
        raise DaemonError(f"listen unix {path}: bind: {errno_text(exc)}") from None
    return s


def _remove_stale(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        return  # not ours to remove: bind reports "address already in use"
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2.0)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        log_printf("removing stale socket %s", path)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    except OSError:
        return
    finally:
        probe.close()
    raise DaemonError(f"listen unix {path}: bind: address already in use (another daemon is serving it)")


# ---------------------------------------------------------------------------------------------
# main


class _Shutdown(Exception):
    pass


def _on_signal(signum: int, frame: Any) -> None:
    raise _Shutdown()


def _load_backend() -> ModuleType:
    # lazy: the DHCP client (packets, namespaces) is the daemon's alone
    from . import lease

    return lease


def serve(listener: socket.socket, service: DHCPService) -> None:
    """Accept until SIGINT/SIGTERM (raised in the main thread as _Shutdown)."""
    methods = service.methods()

    def spawn(fn: Any) -> None:
        threading.Thread(target=fn, daemon=True).start()

    try:
        while True:
            conn, _ = listener.accept()
            spawn(lambda c=conn: rpc.serve_conn(c, methods, spawn))
    except _Shutdown:
        pass


def main(argv: list[str], backend: ModuleType | None = None) -> int:
    try:
        opts, _ = F.parse(FLAGS, argv)
    except F.HelpRequested:
        sys.stderr.write(F.usage("daemon", FLAGS))
        return 0
    except F.FlagError as exc:
        sys.stderr.write(f"{exc}\n{F.usage('daemon', FLAGS)}")
        return 2
    prefix = opts["hostprefix"]
    socket_path = prefix + (opts["socketpath"] or DEFAULT_SOCKET_PATH)
    pidfile = opts["pidfile"]
    if pidfile:
        if not pidfile.startswith("/"):
            log_printf("Error writing pidfile %q: path not absolute", pidfile)
            return 1
        try:
            write_atomic(pidfile, str(os.getpid()).encode(), 0o644)
        except OSError as exc:
            log_printf("Error writing pidfile %q: %v", pidfile, _os_error_text(exc, pidfile))
            return 1
    old_term = signal.signal(signal.SIGTERM, _on_signal)
    old_int = signal.signal(signal.SIGINT, _on_signal)
    listener = None
    service = None
    n_fds = 0
    try:
        n_fds = activation_fds()
        try:
            listener = get_listener(socket_path, n_fds)
        except DaemonError as exc:
            log_printf("Error getting listener: %v", exc)
            return 1
        state_dir = opts["statedir"]
        try:
            store = LeaseStore(prefix + state_dir if state_dir else None)
        except OSError as exc:
            log_printf("Error opening lease state directory: %v", _os_error_text(exc, prefix + state_dir))
            return 1
        service = DHCPService(backend or _load_backend(), store, prefix, opts["broadcast"], opts["timeout"],
                              opts["resendmax"], opts["resendtimeout"])
        service.adopt_all()
        serve(listener, service)
    except _Shutdown:
        pass
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)
        if listener is not None:
            listener.close()
            if not n_fds:  # an inherited socket's file belongs to systemd (RemoveOnStop)
                _unlink(socket_path)
        if pidfile:
            _unlink(pidfile)
        if service is not None:
            service.stop_all()
    return 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _os_error_text(exc: OSError, path: str) -> str:
    return f"open {exc.filename or path}: {errno_text(exc)}"
