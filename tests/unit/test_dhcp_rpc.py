"""net/rpc framing, client and server, the daemon's DHCP service and lease store, and the exec role, all over
real unix sockets in a temporary directory with a fake DHCP client (no root, no network)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from pycni import skel
from pycni.plugins.ipam.dhcp import PLUGIN, daemon, rpc
from pycni.plugins.ipam.dhcp.config import (
    ConfigError,
    client_id,
    lease_fields,
    prepare_options,
)
from pycni.plugins.ipam.dhcp.wire import CMD_ARGS, EMPTY, gob_to_result

SRC = str(Path(__file__).resolve().parents[2] / "src")

# A stand-in for lease.py (B's DHCP client) with the same interface; events go to $FAKE_LOG when set.
FAKE_SRC = r'''
import json, os, threading

class LeaseError(Exception):
    pass

class LeaseConfig:
    def __init__(self, container_id, net_name, ifname, netns, **kw):
        self.container_id, self.net_name, self.ifname, self.netns = container_id, net_name, ifname, netns
        self.__dict__.update(kw)

EVENTS = []
DELAY = [0.0]

def _event(*e):
    EVENTS.append(e)
    log = os.environ.get("FAKE_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps(e) + "\n")

class Lease:
    def __init__(self, cfg, n):
        self.cfg, self.n, self.on_change, self._alive, self.checks = cfg, n, None, True, 0
    def result(self):
        routes = [{"dst": "0.0.0.0/0", "gw": "10.9.0.1"}]
        if self.cfg.priority:
            for r in routes:
                r["priority"] = self.cfg.priority
        return {"cniVersion": "1.1.0", "ips": [{"address": f"10.9.0.{self.n}/24", "gateway": "10.9.0.1"}],
                "routes": routes, "dns": {}}
    def state(self):
        return {"n": self.n}
    def alive(self):
        return self._alive
    def check(self):
        self.checks += 1
    def release(self):
        self._alive = False
        _event("release", self.cfg.client_id.decode(), self.n)
    def stop(self):
        self._alive = False
        _event("stop", self.cfg.client_id.decode(), self.n)

COUNT = [0]

def acquire(cfg):
    if cfg.ifname == "bad0":
        raise LeaseError("no more tries")
    if DELAY[0]:
        end = DELAY[0]
        while end > 0 and not (cfg.cancel and cfg.cancel.is_set()):
            threading.Event().wait(0.05)
            end -= 0.05
        if cfg.cancel and cfg.cancel.is_set():
            raise LeaseError("acquire cancelled")
    COUNT[0] += 1
    _event("acquire", cfg.client_id.decode(), COUNT[0])
    return Lease(cfg, 100 + COUNT[0])

def adopt(state, cfg):
    _event("adopt", cfg.client_id.decode(), state["n"])
    return Lease(cfg, state["n"])
'''


def fake_backend() -> types.ModuleType:
    mod = types.ModuleType("fake_lease")
    exec(FAKE_SRC, mod.__dict__)  # noqa: S102 - the fake is test code, also run in daemon subprocesses
    return mod


def conf(name: str = "net1", sock: str = "", **ipam: object) -> bytes:
    d: dict = {"cniVersion": "1.0.0", "name": name, "type": "macvlan", "ipam": {"type": "dhcp", **ipam}}
    if sock:
        d["ipam"]["daemonSocketPath"] = sock
    return json.dumps(d).encode()


def cmd_args(stdin: bytes, cid: str = "c1", ifname: str = "eth0", netns: str = "/proc/self/ns/net",
             args: str = "") -> dict:
    return {"ContainerID": cid, "Netns": netns, "IfName": ifname, "Args": args, "Path": "/opt/cni/bin",
            "StdinData": stdin}


class Server:
    """DHCPService on a unix socket, served from threads."""

    def __init__(self, tmp: Path, backend: types.ModuleType, state_dir: str | None = None) -> None:
        self.path = str(tmp / "dhcp.sock")
        self.backend = backend
        self.service = daemon.DHCPService(backend, daemon.LeaseStore(state_dir), timeout=1.0)
        self.listener = daemon.get_listener(self.path, 0)
        self.methods = self.service.methods()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=rpc.serve_conn, args=(conn, self.methods, self._spawn), daemon=True).start()

    @staticmethod
    def _spawn(fn: object) -> None:
        threading.Thread(target=fn, daemon=True).start()  # type: ignore[arg-type]

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Server(tmp_path, fake_backend(), str(tmp_path / "state"))
    yield s
    s.close()


# --- pure framing -----------------------------------------------------------------------------------------


def test_framing_helpers() -> None:
    assert rpc.head_end(b"CONNECT /_goRPC_ HTTP/1.0\n\nrest") == 27
    assert rpc.head_end(b"HTTP/1.0 200 Connected to Go RPC\r\n\r\n") == 36
    assert rpc.head_end(b"CONNECT /_goRPC_ HTTP/1.0\n") == -1
    assert rpc.reply_status(rpc.CONNECTED_REPLY) == rpc.CONNECTED_STATUS
    assert rpc.request_line(rpc.CONNECT_REQUEST) == ("CONNECT", "/_goRPC_")
    assert rpc.split_message(b"\x03\xff\x84") is None
    assert rpc.split_message(b"\x03\xff\x84\x00xx") == (b"\xff\x84\x00", 4)
    methods = {"DHCP.Allocate": 1, "DHCP.Release": 2}
    assert rpc.lookup_error("DHCP.Allocate", methods) is None
    assert rpc.lookup_error("DHCP.Nope", methods) == "rpc: can't find method DHCP.Nope"
    assert rpc.lookup_error("Foo.Bar", methods) == "rpc: can't find service Foo.Bar"
    assert rpc.lookup_error("nodot", methods) == "rpc: service/method request ill-formed: nodot"


# --- config (what the daemon reads from a call) ------------------------------------------------------------


def test_client_id_is_cut_to_254_bytes() -> None:
    assert client_id("c", "n", "eth0") == "c/n/eth0"
    assert len(client_id("x" * 300, "n", "eth0").encode()) == 254


def test_prepare_options_follows_head() -> None:
    ipam = {"provide": [{"option": "host-name", "value": "h1"}, {"option": "12", "fromArg": "K8S_POD_NAME"},
                        {"option": "60", "value": "v"}],
            "request": [{"option": "121"}, {"option": "routers"}]}
    request, provide = prepare_options("IgnoreUnknown=1;K8S_POD_NAME=pod-a", ipam)
    assert request == [(121, False), (3, False)]
    assert provide == [(12, b"pod-a"), (60, b"v")]
    assert prepare_options("", {"request": [{"option": "", "skipDefault": True}, {"option": "6"}]})[0] == [(6, True)]
    # only a skipDefault entry with no option: upstream's PRL is then nclient4's default list
    assert prepare_options("", {"request": [{"skipDefault": True}]})[0] == [(1, True), (3, True), (15, True),
                                                                           (6, True)]


@pytest.mark.parametrize(("ipam", "text"), [
    ({"request": [{"option": "abc"}]},
     'Can not parse option "abc": Can not parse option: strconv.ParseUint: parsing "abc": invalid syntax'),
    ({"provide": [{"option": "256", "value": "x"}]},
     'Can not parse option "256": Can not parse option: strconv.ParseUint: parsing "256": value out of range'),
    ({"provide": [{"option": "12", "value": "x" * 256}]}, 'value too long for option "12": "' + "x" * 256 + '"'),
])
def test_prepare_options_errors(ipam: dict, text: str) -> None:
    with pytest.raises(ConfigError) as e:
        prepare_options("", ipam)
    assert str(e.value) == text


def test_lease_fields_and_netconf_errors() -> None:
    key, fields = lease_fields(cmd_args(conf(priority=50, ipv6=True, multipathRouters=True), netns="/run/netns/x"),
                               "/host")
    assert key == "c1/net1/eth0"
    assert fields["netns"] == "/host/run/netns/x"
    assert (fields["priority"], fields["ipv6"], fields["multipath_routers"]) == (50, True, True)
    assert fields["client_id"] == b"c1/net1/eth0"
    with pytest.raises(ConfigError, match="^error parsing netconf: "):
        lease_fields(cmd_args(b"{nope"), "")
    with pytest.raises(ConfigError) as e:
        lease_fields(cmd_args(b'{"name":"n","ipam":{"priority":"x"}}'), "")
    assert str(e.value) == ("error parsing netconf: json: cannot unmarshal string into Go struct field "
                            "IPAMConfig.ipam.priority of type int")


# --- client <-> server --------------------------------------------------------------------------------------


def test_allocate_check_release_over_the_socket(server: Server) -> None:
    c = rpc.Client(server.path, 5.0)
    try:
        r = gob_to_result(c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf(priority=7))))
        assert r["ips"] == [{"address": "10.9.0.101/24", "gateway": "10.9.0.1"}]
        assert r["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.9.0.1", "priority": 7}]
        # CHECK / a second ADD reuses the lease and nudges it
        r2 = gob_to_result(c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf(priority=7))))
        assert r2["ips"] == r["ips"]
        assert server.backend.COUNT[0] == 1
        assert c.call("DHCP.Release", CMD_ARGS, cmd_args(conf())) == {}
        assert c.call("DHCP.Release", CMD_ARGS, cmd_args(conf())) == {}  # unknown lease: fine
        with pytest.raises(rpc.ServerError) as e:
            c.call("DHCP.Nope", CMD_ARGS, cmd_args(conf()))
        assert str(e.value) == "rpc: can't find method DHCP.Nope"
        with pytest.raises(rpc.ServerError) as e:
            c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf(), ifname="bad0"))
        assert str(e.value) == "no more tries"
    finally:
        c.close()
    assert [e[0] for e in server.backend.EVENTS] == ["acquire", "release"]


def test_dead_lease_is_replaced_not_waited_on(server: Server) -> None:
    c = rpc.Client(server.path, 5.0)
    try:
        c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf()))
        for entry in server.service._leases.values():
            entry.lease._alive = False  # maintenance ended (link gone)
        r = gob_to_result(c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf())))
        assert r["ips"][0]["address"] == "10.9.0.102/24"
    finally:
        c.close()


def test_concurrent_dels_all_succeed(server: Server) -> None:
    c = rpc.Client(server.path, 5.0)
    c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf()))
    c.close()
    errors: list[BaseException] = []

    def dele() -> None:
        try:
            cl = rpc.Client(server.path, 5.0)
            cl.call("DHCP.Release", CMD_ARGS, cmd_args(conf()))
            cl.close()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=dele) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert errors == []
    assert [e[0] for e in server.backend.EVENTS].count("release") == 1


def test_del_cancels_an_acquire_in_progress(server: Server) -> None:
    server.backend.DELAY[0] = 30.0
    out: list[object] = []

    def add() -> None:
        cl = rpc.Client(server.path, 60.0)
        try:
            cl.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf()))
        except rpc.ServerError as e:
            out.append(str(e))
        cl.close()

    t = threading.Thread(target=add)
    t.start()
    time.sleep(0.3)
    start = time.monotonic()
    cl = rpc.Client(server.path, 10.0)
    cl.call("DHCP.Release", CMD_ARGS, cmd_args(conf()))
    cl.close()
    t.join(10)
    assert time.monotonic() - start < 5
    assert out == ["acquire cancelled"]


def test_client_call_is_bounded(tmp_path: Path) -> None:
    path = str(tmp_path / "mute.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    held: list[socket.socket] = []

    def accept() -> None:
        conn, _ = srv.accept()
        conn.recv(100)
        conn.sendall(rpc.CONNECTED_REPLY)  # then never answers
        held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    c = rpc.Client(path, 0.5)
    start = time.monotonic()
    with pytest.raises(rpc.RPCTimeout):
        c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf()))
    assert time.monotonic() - start < 3
    c.close()
    srv.close()


def test_dial_errors_name_the_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "none.sock")
    with pytest.raises(rpc.RPCError) as e:
        rpc.Client(path, 1.0)
    assert str(e.value) == f"dial unix {path}: connect: no such file or directory"


def test_http_that_is_not_connect(server: Server) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.connect(server.path)
    s.sendall(b"GET /_goRPC_ HTTP/1.0\r\n\r\n")
    data = s.recv(4096)
    s.close()
    assert data.startswith(b"HTTP/1.0 405 ") and data.endswith(b"405 must CONNECT\n")


# --- the exec role (skel.run with the real plugin) ---------------------------------------------------------


def run_exec(command: str, stdin: bytes, cid: str = "c1") -> skel.Outcome:
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": "/proc/self/ns/net", "CNI_IFNAME": "eth0",
           "CNI_PATH": "/opt/cni/bin"}
    return skel.run(PLUGIN, env, stdin)


def test_exec_add_check_del(server: Server) -> None:
    out = run_exec("ADD", conf(sock=server.path))
    assert out.error is None, out.error
    assert json.loads(out.stdout())["ips"] == [{"address": "10.9.0.101/24", "gateway": "10.9.0.1"}]
    out = run_exec("ADD", conf(sock=server.path).replace(b'"1.0.0"', b'"0.3.1"'))
    assert json.loads(out.stdout())["ips"] == [{"version": "4", "address": "10.9.0.101/24", "gateway": "10.9.0.1"}]
    assert run_exec("CHECK", conf(sock=server.path)).error is None
    assert run_exec("DEL", conf(sock=server.path)).error is None


def test_exec_without_daemon(tmp_path: Path) -> None:
    path = str(tmp_path / "absent.sock")
    out = run_exec("ADD", conf(sock=path))
    assert out.error is not None
    assert out.error.to_json() == {"code": 999, "msg": f"error dialing DHCP daemon: dial unix {path}: connect: "
                                                       "no such file or directory"}


def test_exec_error_texts(server: Server) -> None:
    bad = json.dumps({"cniVersion": "1.0.0", "name": "n", "ipam": {"daemonSocketPath": 5}}).encode()
    assert run_exec("ADD", bad).error.to_json()["msg"] == (  # type: ignore[union-attr]
        "error obtaining socketPath: error parsing socket path conf: json: cannot unmarshal number into Go struct "
        "field IPAMConfig.ipam.daemonSocketPath of type string")
    noipam = json.dumps({"cniVersion": "1.0.0", "name": "n"}).encode()
    assert run_exec("ADD", noipam).error is not None
    out = run_exec("ADD", conf(sock=server.path, request=[{"option": "x"}]))
    assert out.error.to_json() == {  # type: ignore[union-attr]
        "code": 999, "msg": 'error calling DHCP.Allocate: Can not parse option "x": Can not parse option: '
                            'strconv.ParseUint: parsing "x": invalid syntax'}


def test_exec_gc_and_status_do_nothing() -> None:
    c = json.dumps({"cniVersion": "1.1.0", "name": "n", "ipam": {"type": "dhcp"}}).encode()
    assert run_exec("GC", c).error is None
    assert run_exec("STATUS", c).error is None


# --- persistence ---------------------------------------------------------------------------------------------


def test_store_round_trip_and_adoption(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    s1 = Server(tmp_path, fake_backend(), state)
    c = rpc.Client(s1.path, 5.0)
    c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf(provide=[{"option": "12", "value": "h"}])))
    c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf(), cid="gone", netns=str(tmp_path / "no-such-netns")))
    c.close()
    s1.service.stop_all()
    s1.close()
    files = sorted(os.listdir(state))
    assert len(files) == 2 and all(f.endswith(".json") for f in files)
    assert all(os.stat(os.path.join(state, f)).st_mode & 0o777 == 0o600 for f in files)

    os.unlink(s1.path)
    backend = fake_backend()
    s2 = Server(tmp_path, backend, state)
    assert s2.service.adopt_all() == 1  # the lease whose netns is gone is forgotten
    assert [e[0] for e in backend.EVENTS] == ["adopt"]
    assert len(os.listdir(state)) == 1
    entry = next(iter(s2.service._leases.values()))
    assert entry.lease.cfg.provide == [(12, b"h")]
    c = rpc.Client(s2.path, 5.0)
    r = gob_to_result(c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf(provide=[{"option": "12", "value": "h"}]))))
    assert r["ips"][0]["address"] == "10.9.0.101/24"  # the adopted lease, not a new one
    c.call("DHCP.Release", CMD_ARGS, cmd_args(conf()))
    c.close()
    assert [e[0] for e in backend.EVENTS] == ["adopt", "release"]
    assert os.listdir(state) == []
    s2.close()


def test_on_change_repersists(server: Server, tmp_path: Path) -> None:
    c = rpc.Client(server.path, 5.0)
    c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf()))
    c.close()
    entry = next(iter(server.service._leases.values()))
    entry.lease.n = 55
    entry.lease.on_change()
    (f,) = os.listdir(tmp_path / "state")
    assert json.loads((tmp_path / "state" / f).read_text())["lease"] == {"n": 55}


# --- the daemon process ---------------------------------------------------------------------------------------

DAEMON_MAIN = """
import sys, types
sys.path.insert(0, {src!r})
mod = types.ModuleType("fake_lease")
exec({fake!r}, mod.__dict__)
from pycni.plugins.ipam.dhcp import daemon
sys.exit(daemon.main(sys.argv[1:], backend=mod))
"""


def start_daemon(tmp_path: Path, *argv: str, env: dict | None = None) -> subprocess.Popen:
    code = DAEMON_MAIN.format(src=SRC, fake=FAKE_SRC)
    e = {**os.environ, "FAKE_LOG": str(tmp_path / "events"), **(env or {})}
    return subprocess.Popen([sys.executable, "-c", code, *argv], env=e, stderr=subprocess.PIPE, text=True)


def wait_for(pred, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def stop(p: subprocess.Popen) -> str:
    if p.poll() is None:
        p.terminate()
    try:
        _, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    return err


def test_daemon_stale_socket_pidfile_and_clean_shutdown(tmp_path: Path) -> None:
    sock = str(tmp_path / "run" / "dhcp.sock")
    os.makedirs(tmp_path / "run")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(sock)  # a crashed daemon's leftover: bound, nobody listening
    stale.close()
    pidfile = str(tmp_path / "d.pid")
    p = start_daemon(tmp_path, "-socketpath", sock, "-pidfile", pidfile, "-statedir", str(tmp_path / "st"))
    try:
        wait_for(lambda: os.path.exists(pidfile) and _connectable(sock))
        assert Path(pidfile).read_text() == str(p.pid)
        # a second daemon on the same path refuses instead of stealing it
        p2 = start_daemon(tmp_path, "-socketpath", sock, "-statedir", str(tmp_path / "st2"))
        assert p2.wait(10) == 1
        assert "Error getting listener: listen unix " in stop(p2)
        c = rpc.Client(sock, 5.0)
        c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf()))
        c.close()
    finally:
        err = stop(p)
    assert p.returncode == 0, err
    assert "removing stale socket" in err
    assert not os.path.exists(sock) and not os.path.exists(pidfile)
    events = [json.loads(x)[0] for x in (tmp_path / "events").read_text().splitlines()]
    assert events == ["acquire", "stop"]  # shutdown keeps the lease (no RELEASE)


def test_daemon_restart_readopts(tmp_path: Path) -> None:
    sock = str(tmp_path / "dhcp.sock")
    args = ("-socketpath", sock, "-statedir", str(tmp_path / "st"))
    p = start_daemon(tmp_path, *args)
    try:
        wait_for(lambda: _connectable(sock))
        c = rpc.Client(sock, 5.0)
        c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf()))
        c.close()
    finally:
        stop(p)
    p = start_daemon(tmp_path, *args)
    try:
        wait_for(lambda: _connectable(sock))
        c = rpc.Client(sock, 5.0)
        c.call("DHCP.Release", CMD_ARGS, cmd_args(conf()))
        c.close()
    finally:
        err = stop(p)
    events = [json.loads(x)[0] for x in (tmp_path / "events").read_text().splitlines()]
    assert events == ["acquire", "stop", "adopt", "release"], err


def test_daemon_socket_activation(tmp_path: Path) -> None:
    sock = str(tmp_path / "act.sock")
    lst = socket.socket(socket.AF_UNIX)
    lst.bind(sock)
    lst.listen(8)
    code = DAEMON_MAIN.format(src=SRC, fake=FAKE_SRC)
    # LISTEN_PID must be the daemon's own pid and the socket fd 3: bash (fds above 9) sets both, execs python
    fd = lst.fileno()
    move = "" if fd == 3 else f"exec 3<&{fd} {fd}<&-; "
    script = move + 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -c "$1" -statedir "$2" -socketpath /nonexistent/x'
    cmd = ["bash", "-c", script, sys.executable, code, str(tmp_path / "st")]
    p = subprocess.Popen(cmd, pass_fds=(fd,), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "FAKE_LOG": str(tmp_path / "events")})
    try:
        wait_for(lambda: (tmp_path / "st").exists())
        c = rpc.Client(sock, 5.0)
        r = gob_to_result(c.call("DHCP.Allocate", CMD_ARGS, cmd_args(conf())))
        c.close()
        assert r["ips"][0]["address"] == "10.9.0.101/24"
    finally:
        err = stop(p)
        lst.close()
    assert p.returncode == 0, err
    assert os.path.exists(sock)  # an inherited socket's file is systemd's to remove


def _connectable(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_release_reply_type_is_empty_struct() -> None:
    assert EMPTY.fields == [] and EMPTY.name == ""


def test_exec_loads_no_heavy_module(tmp_path: Path) -> None:
    """ADD and DEL (here failing to dial) load nothing from the stdlib beyond `_socket`."""
    probe = str(Path(__file__).resolve().parents[1] / "startup_probe.py")
    stdin = conf(sock=str(tmp_path / "none.sock"))
    for command in ("ADD", "DEL"):
        env = {"CNI_COMMAND": command, "CNI_CONTAINERID": "c1", "CNI_NETNS": "/x", "CNI_IFNAME": "eth0",
               "CNI_PATH": "/x"}
        p = subprocess.run([sys.executable, "-I", "-S", probe, SRC, "pycni.plugins.ipam.dhcp"], input=stdin, env=env,
                           capture_output=True, timeout=60, check=False)
        mods = set(p.stderr.decode().split("PYCNI-MODULES", 1)[1].split())
        assert {m for m in mods if not m.startswith("pycni")} <= {"__future__", "_socket"}, sorted(mods)
        assert not {m for m in mods if m.startswith(("pycni.plugins.ipam.dhcp.daemon", "pycni.plugins.ipam.dhcp.lease",
                                                     "pycni.netlink", "pycni.linux"))}, sorted(mods)
