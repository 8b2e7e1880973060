"""A small in-memory rtnetlink "kernel" for unit-testing the link plugins without root (helpers only; the
`kernel` fixture that installs it is in tests/unit/conftest.py, the tests of the linkinfo verbs that run on it
in test_linkinfo_fakekernel.py).

FakeKernel replaces, for one test (monkeypatch): NetlinkSocket everywhere in pycni, netns()/check_netns_path/
open_netns, the namespace-fd helpers of pycni.linux.linkinfo, sysctl get/set, tuntap.create and IPAM delegation.
Every request a plugin sends is recorded as (netns, msg type, flags, payload) so tests can assert the exact
messages; links, addresses and routes live per namespace. Namespaces are plain paths ("/host" is the start).
"""

from __future__ import annotations

import errno
import os
import sys
from socket import AF_INET, AF_INET6

import pytest

from pycni.linux import linkinfo
from pycni.netlink import codec as c
from pycni.netlink.netns import NSPathNotExistError
from pycni.netlink.socket import netlink_error
from pycni.spec.errors import CNIError

HOST = "/host"
RTM_NAMES = {c.RTM_NEWLINK: "NEWLINK", c.RTM_SETLINK: "SETLINK", c.RTM_DELLINK: "DELLINK",
             c.RTM_NEWADDR: "NEWADDR", c.RTM_DELADDR: "DELADDR", c.RTM_NEWROUTE: "NEWROUTE",
             c.RTM_DELROUTE: "DELROUTE"}



def patch_everywhere(mp: Any, module: Any, name: str, fake: Any) -> None:
    """Replace `module.name` and every pycni module's own binding of that same object (a module that did
    `from module import name` at its top holds its own reference)."""
    original = getattr(module, name)
    mp.setattr(module, name, fake)
    for mod_name, mod in list(sys.modules.items()):
        if mod_name.startswith("pycni") and mod is not module and getattr(mod, name, None) is original:
            mp.setattr(mod, name, fake)

class FLink:
    def __init__(self, index: int, name: str, kind: str | None, *, mtu: int = 1500, address: str = "",
                 parent: int = 0, data: dict[int, bytes] | None = None) -> None:
        self.index = index
        self.name = name
        self.kind = kind
        self.mtu = mtu
        self.address = address or "02:00:00:%02x:%02x:%02x" % ((index >> 16) & 255, (index >> 8) & 255, index & 255)
        self.parent = parent
        self.data = data or {}
        self.flags = 0
        self.master = 0
        self.alias = ""

    def payload(self) -> bytes:
        attrs = [c.pack_str(c.IFLA_IFNAME, self.name), c.pack_u32(c.IFLA_MTU, self.mtu),
                 c.pack_attr(c.IFLA_ADDRESS, c.parse_mac(self.address))]
        if self.parent:
            attrs.append(c.pack_u32(c.IFLA_LINK, self.parent))
        if self.master:
            attrs.append(c.pack_u32(c.IFLA_MASTER, self.master))
        if self.alias:
            attrs.append(c.pack_str(c.IFLA_IFALIAS, self.alias))
        if self.kind:
            info = [c.pack_str(c.IFLA_INFO_KIND, self.kind)]
            if self.data:
                info.append(c.pack_nested(c.IFLA_INFO_DATA, [c.pack_attr(k, v) for k, v in self.data.items()]))
            attrs.append(c.pack_nested(c.IFLA_LINKINFO, info))
        return c.pack_ifinfomsg(index=self.index, flags=self.flags) + b"".join(attrs)


class FNetns:
    def __init__(self, path: str) -> None:
        self.path = path
        self.links: dict[int, FLink] = {}
        self.addrs: list[c.Addr] = []
        self.routes: list[c.Route] = []
        self.sysctls: dict[str, str] = {}

    def by_name(self, name: str) -> FLink | None:
        for lk in self.links.values():
            if lk.name == name:
                return lk
        return None


class FakeKernel:
    def __init__(self) -> None:
        self.ns: dict[str, FNetns] = {}
        self.stack: list[str] = [HOST]
        self.fds: dict[int, str] = {}
        self.requests: list[tuple[str, int, int, bytes]] = []
        self.unsupported: set[str] = set()
        self.fail: dict[tuple[int, str], int] = {}  # (msg type, attr-name or "") -> errno, one shot
        self.ipam_calls: list[str] = []
        self.ipam_result: dict = {}
        self.ipam_error: CNIError | None = None
        self.next_index = 2
        self.temp_count = 0
        self.add_ns(HOST)

    # --- namespaces ---
    def add_ns(self, path: str) -> FNetns:
        ns = FNetns(path)
        ns.links[1] = FLink(1, "lo", None, mtu=65536, address="00:00:00:00:00:00")
        self.ns[path] = ns
        return ns

    @property
    def cur(self) -> FNetns:
        return self.ns[self.stack[-1]]

    def resolve(self, path: str) -> str:
        if path.startswith("/proc/self/fd/"):
            return self.fds[int(path.rsplit("/", 1)[1])]
        return path

    def open_fd(self, path: str) -> int:
        fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self.fds[fd] = path
        return fd

    def add_link(self, path: str, name: str, kind: str | None = "veth", **kw: object) -> FLink:
        lk = FLink(self.next_index, name, kind, **kw)  # type: ignore[arg-type]
        self.next_index += 1
        self.ns[path].links[lk.index] = lk
        return lk

    def link(self, path: str, name: str) -> FLink | None:
        return self.ns[path].by_name(name)

    def names(self, path: str) -> list[str]:
        return sorted(lk.name for lk in self.ns[path].links.values())

    def sent(self, mtype: int | None = None) -> list[tuple[str, int, int, bytes]]:
        return [r for r in self.requests if mtype is None or r[1] == mtype]

    def with_container(self) -> FakeKernel:
        """The link plugins' usual set-up: a container netns "/cont", and IPAM answering STATIC_RESULT."""
        self.add_ns("/cont")
        self.ipam_result = STATIC_RESULT
        return self

    def created(self) -> tuple[str, int, list[tuple[int, bytes]]]:
        """The one RTM_NEWLINK that made a kind-specific link: (netns, flags, its attributes)."""
        [(ns, _t, flags, payload)] = [r for r in self.sent(c.RTM_NEWLINK) if linkinfo.info_data(r[3])[0]]
        return ns, flags, c.parse_attrs(payload, c.IFINFOMSG_LEN)

    def log(self) -> list[tuple[str, str]]:
        """(netns, verb) of every request, for order assertions."""
        out = []
        for ns, mtype, _flags, payload in self.requests:
            verb = RTM_NAMES.get(mtype, str(mtype))
            if mtype in (c.RTM_NEWLINK, c.RTM_SETLINK):
                attrs = dict(c.parse_attrs(payload, c.IFINFOMSG_LEN))
                parts = []
                if c.IFLA_LINKINFO in attrs:
                    parts.append("create")
                if c.IFLA_IFNAME in attrs and c.IFLA_LINKINFO not in attrs:
                    parts.append("name=" + attrs[c.IFLA_IFNAME].rstrip(b"\0").decode())
                if c.IFLA_IFALIAS in attrs:
                    parts.append("alias=" + attrs[c.IFLA_IFALIAS].decode())
                if c.IFLA_NET_NS_FD in attrs and c.IFLA_LINKINFO not in attrs:
                    parts.append("netns=" + self.fds.get(int.from_bytes(attrs[c.IFLA_NET_NS_FD], sys.byteorder), "?"))
                if c.IFLA_MASTER in attrs:
                    parts.append("master")
                if c.IFLA_MTU in attrs and c.IFLA_LINKINFO not in attrs:
                    parts.append("mtu")
                if c.IFLA_ADDRESS in attrs and c.IFLA_LINKINFO not in attrs:
                    parts.append("mac")
                _f, _t, _i, flags, change = __import__("struct").unpack_from("=BxHiII", payload, 0)
                if change & c.IFF_UP:
                    parts.append("up" if flags & c.IFF_UP else "down")
                verb += "(" + ",".join(parts) + ")"
            out.append((ns, verb))
        return out

    # --- the socket side ---
    def _maybe_fail(self, mtype: int, key: str) -> None:
        err = self.fail.pop((mtype, key), None)
        if err is not None:
            raise netlink_error(err)

    def handle(self, path: str, mtype: int, payload: bytes, flags: int) -> None:
        self.requests.append((path, mtype, flags, payload))
        ns = self.ns[path]
        if mtype in (c.RTM_NEWLINK, c.RTM_SETLINK):
            self._link_change(ns, payload, flags)
        elif mtype == c.RTM_DELLINK:
            self._maybe_fail(mtype, "")
            lk = ns.links.pop(c.unpack_link(payload).index, None)
            if lk is None:
                raise netlink_error(errno.ENODEV)
            ns.addrs = [a for a in ns.addrs if a.index != lk.index]
            ns.routes = [r for r in ns.routes if r.oif != lk.index]
        elif mtype == c.RTM_NEWADDR:
            self._maybe_fail(mtype, "")
            a = c.unpack_addr(payload)
            if any(x.index == a.index and x.ip == a.ip and x.prefixlen == a.prefixlen for x in ns.addrs):
                raise netlink_error(errno.EEXIST)
            ns.addrs.append(a)
        elif mtype == c.RTM_NEWROUTE:
            self._maybe_fail(mtype, "")
            r = c.unpack_route(payload)
            ns.routes.append(r)
        elif mtype == c.RTM_DELROUTE:
            r = c.unpack_route(payload)
            for i, x in enumerate(ns.routes):
                if (x.dst, x.dst_len, x.family) == (r.dst, r.dst_len, r.family):
                    del ns.routes[i]
                    break
            else:
                raise netlink_error(errno.ESRCH)

    def _link_change(self, ns: FNetns, payload: bytes, flags: int) -> None:
        import struct

        _fam, _t, index, iflags, change = struct.unpack_from("=BxHiII", payload, 0)
        attrs = c.parse_attrs(payload, c.IFINFOMSG_LEN)
        a = dict(attrs)
        kind, data = linkinfo.info_data(payload)
        if index == 0 and kind is not None:
            if not flags & c.NLM_F_CREATE:
                raise netlink_error(errno.ENODEV)
            self._maybe_fail(c.RTM_NEWLINK, "create")
            if kind in self.unsupported:
                raise netlink_error(errno.EOPNOTSUPP)
            name = a[c.IFLA_IFNAME].rstrip(b"\0").decode()
            target = ns
            if c.IFLA_NET_NS_FD in a:
                target = self.ns[self.fds[int.from_bytes(a[c.IFLA_NET_NS_FD], sys.byteorder)]]
            parent = int.from_bytes(a[c.IFLA_LINK], sys.byteorder) if c.IFLA_LINK in a else 0
            mtu = 1500
            if parent:
                if parent not in ns.links:
                    raise netlink_error(errno.ENODEV)
                mtu = ns.links[parent].mtu
            if c.IFLA_MTU in a:
                mtu = int.from_bytes(a[c.IFLA_MTU], sys.byteorder)
            if target.by_name(name):
                raise netlink_error(errno.EEXIST)
            mac = c.mac_str(a[c.IFLA_ADDRESS]) if c.IFLA_ADDRESS in a else ""
            lk = FLink(self.next_index, name, kind, mtu=mtu, address=mac, parent=parent, data=data)
            self.next_index += 1
            target.links[lk.index] = lk
            return
        lk = ns.links.get(index)
        if lk is None:
            raise netlink_error(errno.ENODEV)
        for atype, value in attrs:
            if atype == c.IFLA_IFNAME:
                self._maybe_fail(c.RTM_NEWLINK, "name")
                name = value.rstrip(b"\0").decode()
                other = ns.by_name(name)
                if other is not None and other is not lk:
                    raise netlink_error(errno.EEXIST)
                lk.name = name
            elif atype == c.IFLA_MTU:
                lk.mtu = int.from_bytes(value, sys.byteorder)
            elif atype == c.IFLA_ADDRESS:
                lk.address = c.mac_str(value)
            elif atype == c.IFLA_MASTER:
                self._maybe_fail(c.RTM_NEWLINK, "master")
                lk.master = int.from_bytes(value, sys.byteorder)
            elif atype == c.IFLA_IFALIAS:
                self._maybe_fail(c.RTM_SETLINK, "alias")
                lk.alias = value.decode()
            elif atype == c.IFLA_NET_NS_FD:
                self._maybe_fail(c.RTM_NEWLINK, "netns")
                target = self.ns[self.fds[int.from_bytes(value, sys.byteorder)]]
                if target.by_name(lk.name):
                    raise netlink_error(errno.EEXIST)
                del ns.links[lk.index]
                ns.addrs = [x for x in ns.addrs if x.index != lk.index]
                ns.routes = [r for r in ns.routes if r.oif != lk.index]
                lk.flags &= ~c.IFF_UP
                lk.master = 0
                target.links[lk.index] = lk
        if change & c.IFF_UP:
            self._maybe_fail(c.RTM_NEWLINK, "up")
            lk.flags = (lk.flags & ~c.IFF_UP) | (iflags & c.IFF_UP)

    def query(self, path: str, mtype: int, payload: bytes) -> list[c.NlMsg]:
        ns = self.ns[path]
        if mtype != c.RTM_GETLINK:
            raise AssertionError(f"unexpected query {mtype}")
        want = c.unpack_link(payload)
        if want.index:
            lk = ns.links.get(want.index)
        elif want.name:
            lk = ns.by_name(want.name)
        else:
            raise netlink_error(errno.EINVAL)
        if lk is None:
            raise netlink_error(errno.ENODEV)
        return [c.NlMsg(c.RTM_NEWLINK, payload=lk.payload())]

    def dump(self, path: str, mtype: int) -> list[c.NlMsg]:
        ns = self.ns[path]
        if mtype == c.RTM_GETLINK:
            return [c.NlMsg(c.RTM_NEWLINK, payload=lk.payload()) for lk in ns.links.values()]
        if mtype == c.RTM_GETADDR:
            return [c.NlMsg(c.RTM_NEWADDR, payload=c.pack_addr(a)) for a in ns.addrs]
        if mtype == c.RTM_GETROUTE:
            v4 = [r for r in ns.routes if r.family == AF_INET]
            v6 = [r for r in ns.routes if r.family == AF_INET6]
            return [c.NlMsg(c.RTM_NEWROUTE, payload=c.pack_route(r)) for r in v4 + v6]
        raise AssertionError(f"unexpected dump {mtype}")

    # --- installing ---
    def install(self, mp: pytest.MonkeyPatch) -> FakeKernel:
        kernel = self
        from pycni.netlink import netns as netns_mod
        from pycni.netlink import socket as sock_mod

        original = sock_mod.NetlinkSocket
        import pycni.ipam.configure  # noqa: F401 - bind-at-import users of NetlinkSocket must be patched too
        import pycni.linux.addr  # noqa: F401
        import pycni.linux.link  # noqa: F401
        import pycni.linux.route  # noqa: F401

        class FakeSocket:
            def __init__(self) -> None:
                self.path = kernel.stack[-1]

            def close(self) -> None:
                pass

            def __enter__(self) -> FakeSocket:
                return self

            def __exit__(self, *a: object) -> None:
                pass

            def request(self, mtype: int, payload: bytes, flags: int = 0) -> None:
                kernel.handle(self.path, mtype, payload, flags)

            def query(self, mtype: int, payload: bytes, flags: int = 0) -> list[c.NlMsg]:
                return kernel.query(self.path, mtype, payload)

            def dump(self, mtype: int, payload: bytes, attempts: int = 5) -> list[c.NlMsg]:
                return kernel.dump(self.path, mtype)

        for name, mod in list(sys.modules.items()):
            if name.startswith("pycni") and getattr(mod, "NetlinkSocket", None) is original:
                mp.setattr(mod, "NetlinkSocket", FakeSocket)

        class FakeNetns:
            def __init__(self, path: str) -> None:
                self.path = path

            def __enter__(self) -> FakeNetns:
                target = kernel.resolve(self.path)
                if target not in kernel.ns:
                    raise NSPathNotExistError(f'failed to Statfs "{self.path}": no such file or directory')
                kernel.stack.append(target)
                return self

            def __exit__(self, *a: object) -> None:
                kernel.stack.pop()

        def check_netns_path(path: str) -> None:
            if kernel.resolve(path) not in kernel.ns:
                raise NSPathNotExistError(f'failed to Statfs "{path}": no such file or directory')

        def open_netns(path: str) -> int:
            check_netns_path(path)
            return kernel.open_fd(kernel.resolve(path))

        def open_ns_fd(path: str) -> int:
            if kernel.resolve(path) not in kernel.ns:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
            return kernel.open_fd(kernel.resolve(path))

        def temp_netns() -> int:
            kernel.temp_count += 1
            path = f"/tmpns{kernel.temp_count}"
            kernel.add_ns(path)
            return kernel.open_fd(path)

        patch_everywhere(mp, netns_mod, "netns", FakeNetns)
        patch_everywhere(mp, netns_mod, "check_netns_path", check_netns_path)
        patch_everywhere(mp, netns_mod, "open_netns", open_netns)
        patch_everywhere(mp, linkinfo, "open_ns_fd", open_ns_fd)
        patch_everywhere(mp, linkinfo, "current_ns_fd", lambda: kernel.open_fd(kernel.stack[-1]))
        patch_everywhere(mp, linkinfo, "temp_netns", temp_netns)

        from pycni.linux import sysctl

        def sysctl_get(name: str) -> str:
            key = sysctl.normalize(name)
            if key not in kernel.cur.sysctls:
                if "/disable_ipv6" in key or "/keep_addr_on_down" in key:
                    return "0"
                raise sysctl.SysctlError("open", sysctl.path_of(name), errno.ENOENT)
            return kernel.cur.sysctls[key]

        def sysctl_set(name: str, value: str) -> str:
            kernel.cur.sysctls[sysctl.normalize(name)] = value
            return value

        patch_everywhere(mp, sysctl, "get", sysctl_get)
        patch_everywhere(mp, sysctl, "set", sysctl_set)

        from pycni.linux import tuntap

        def fake_tun_create(name: str, flags: int, *, owner: int | None = None, group: int | None = None,
                            persist: bool = True) -> str:
            data = {linkinfo.IFLA_TUN_TYPE: bytes([flags & 3]), 0x100: flags.to_bytes(4, sys.byteorder)}
            if owner is not None:
                data[linkinfo.IFLA_TUN_OWNER] = owner.to_bytes(4, sys.byteorder)
            if group is not None:
                data[linkinfo.IFLA_TUN_GROUP] = group.to_bytes(4, sys.byteorder)
            if kernel.cur.by_name(name):
                raise tuntap.TuntapError(errno.EBUSY, "Tuntap IOCTL TUNSETIFF failed [0], errno device or resource busy")
            lk = FLink(kernel.next_index, name, "tun", data=data)
            kernel.next_index += 1
            kernel.cur.links[lk.index] = lk
            return name

        patch_everywhere(mp, tuntap, "create", fake_tun_create)

        from pycni import invoke

        def ipam_add(ipam_type: str, args: object) -> dict:
            kernel.ipam_calls.append(f"ADD {ipam_type}")
            if not ipam_type:
                raise CNIError(999, "no plugin name provided")
            if kernel.ipam_error is not None:
                raise kernel.ipam_error
            import copy

            return copy.deepcopy(kernel.ipam_result)

        def ipam_call(ipam_type: str, command: str, args: object) -> None:
            kernel.ipam_calls.append(f"{command} {ipam_type}")
            if not ipam_type:
                raise CNIError(999, "no plugin name provided")

        patch_everywhere(mp, invoke, "ipam_add", ipam_add)
        patch_everywhere(mp, invoke, "ipam_call", ipam_call)
        return self


def run_plugin(plugin: object, command: str, conf: dict, *, netns: str = "/cont", ifname: str = "eth0",
               cni_args: str = "", container_id: str = "cid1") -> tuple[dict | None, CNIError | None]:
    """Run a plugin through skel.run (no netns equality check) with the fake kernel installed; the result is
    the object that would be printed."""
    import json

    from pycni import skel

    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_NETNS": netns, "CNI_IFNAME": ifname,
           "CNI_PATH": "/nonexistent", "CNI_ARGS": cni_args}
    from pycni.spec.result import to_json_obj

    out = skel.run(plugin, env, json.dumps(conf).encode(), None)  # type: ignore[arg-type]
    return (None if out.result is None else to_json_obj(out.result)), out.error


def created_exclusive(k: FakeKernel) -> tuple[str, list[tuple[int, bytes]]]:
    """FakeKernel.created(), which must have been sent with CREATE|EXCL: (netns, attributes)."""
    ns, flags, attrs = k.created()
    assert flags == c.NLM_F_CREATE | c.NLM_F_EXCL
    return ns, attrs


def ok(res: tuple[dict | None, CNIError | None]) -> dict | None:
    result, err = res
    assert err is None, f"unexpected error: {err.code} {err.msg}"
    return result


def err_msg(res: tuple[dict | None, CNIError | None]) -> str:
    result, err = res
    assert err is not None, f"expected an error, got {result}"
    return err.msg


STATIC_RESULT = {
    "cniVersion": "1.1.0",
    "ips": [{"address": "192.0.2.100/24", "gateway": "192.0.2.1"}],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "198.51.100.0/24", "gw": "192.0.2.254"}],
    "dns": {"nameservers": ["192.0.2.53"]},
}
