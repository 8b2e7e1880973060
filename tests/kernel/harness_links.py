"""Harness for the link-plugin kernel tests (macvlan, host-device, tap, ipvlan, vlan, dummy); no tests here.

A "twin" is a topology made twice, once for pycni's executable and once for the reference binary:
  host netns  H  (up0: veth to an `ext` netns, 192.0.2.2/24, default via 192.0.2.1; the plugin runs here through
                  `ip netns exec H`, so every host-side object stays out of the machine's own namespaces)
  container   C  (empty but for lo)
Both executables get the same config; CNI_PATH is pycni's plugin dir (conftest's `pycni_dir`), so IPAM is pycni's
`static` for both. Namespaces come from conftest's netns_factory and are deleted even when a test fails.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from harness_common import NetnsFactory, ip, ipj, need_reference, ns_path, nsx, run_plugin, sh

MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class Side:
    """One half of a twin: its host and container namespaces and the executable to run."""

    def __init__(self, factory: NetnsFactory, exe: str, cni_path: str, tag: str) -> None:
        self.exe = exe
        self.cni_path = cni_path
        self.host = factory.new(f"{tag}h")
        self.ext = factory.new(f"{tag}x")
        self.cont = factory.new(f"{tag}c")
        self.cont_path = ns_path(self.cont)
        ip(self.host, "link", "add", "up0", "type", "veth", "peer", "name", "ext0", "netns", self.ext)
        ip(self.host, "link", "set", "up0", "up")
        ip(self.ext, "link", "set", "ext0", "up")
        ip(self.host, "addr", "add", "192.0.2.2/24", "dev", "up0")
        ip(self.ext, "addr", "add", "192.0.2.1/24", "dev", "ext0")
        ip(self.host, "route", "add", "default", "via", "192.0.2.1")

    def __call__(self, command: str, conf: dict, ifname: str = "eth0", args: str = "",
                 netns: str | None = None) -> tuple[int, dict | None]:
        """Run the executable inside the host netns; (exit code, parsed stdout or None)."""
        rc, out, _ = run_plugin(self.exe, command, conf, self.host, self.cont_path if netns is None else netns,
                                self.cni_path, ifname=ifname, cni_args=args, timeout=60)
        return rc, out

    def add(self, conf: dict, ifname: str = "eth0", args: str = "") -> dict:
        rc, out = self("ADD", conf, ifname, args)
        assert rc == 0, f"{self.exe} ADD failed: {out}"
        assert out is not None
        return out

    def ok(self, command: str, conf: dict, ifname: str = "eth0", args: str = "", netns: str | None = None) -> None:
        rc, out = self(command, conf, ifname, args, netns)
        assert rc == 0, f"{self.exe} {command} failed: {out}"

    def error(self, command: str, conf: dict, ifname: str = "eth0", args: str = "") -> str:
        rc, out = self(command, conf, ifname, args)
        assert rc != 0 and out is not None, f"{self.exe} {command} should fail, got {out}"
        return out["msg"]


def sysctl(ns: str, name: str) -> str:
    """A sysctl inside `ns`, or "<the error>" when it cannot be read."""
    p = nsx(ns, "cat", "/proc/sys/" + name, check=False)
    return p.stdout.strip() if p.returncode == 0 else f"<{p.stderr.strip()}>"


def link_names(ns: str) -> list[str]:
    return sorted(lk["ifname"] for lk in ipj(ns, "link", "show"))


LINK_KEYS = ("ifname", "mtu", "operstate", "link_type", "txqlen", "ifalias")
INFO_KEYS = ("mode", "bcqueuelen", "type", "pi", "vnet_hdr", "multi_queue", "persist", "user", "group",
             "protocol", "id")


def link_state(ns: str, dev: str) -> dict:
    """The kernel's view of one link (iproute2 JSON), without the random or counter-like parts."""
    [lk] = ipj(ns, "-d", "link", "show", "dev", dev)
    out = {k: lk.get(k) for k in LINK_KEYS}
    out["flags"] = sorted(f for f in lk.get("flags", []) if f != "LOWER_UP")
    info = lk.get("linkinfo", {})
    out["kind"] = info.get("info_kind")
    data = info.get("info_data", {})
    out.update({f"data.{k}": data[k] for k in INFO_KEYS if k in data})
    out["master"] = lk.get("master")
    out["mac_ok"] = bool(MAC_RE.match(lk.get("address", "")))
    return out


def link_state_head(ns: str, ifname: str) -> dict:
    """link_state without txqlen, which 1.1.1 sets to 0 and HEAD leaves alone."""
    st = link_state(ns, ifname)
    del st["txqlen"]
    return st


def addr_state(ns: str, dev: str) -> list[tuple]:
    [lk] = ipj(ns, "addr", "show", "dev", dev)
    return sorted((a["family"], a["local"], a["prefixlen"], a.get("scope"), a.get("broadcast"))
                  for a in lk.get("addr_info", []) if a.get("scope") != "link")


def route_state(ns: str) -> list[tuple]:
    out = []
    for fam in ("-4", "-6"):
        for r in ipj(ns, fam, "route", "show", "table", "all"):
            if r.get("type", "unicast") != "unicast" or r.get("table") == "local":
                continue
            out.append((fam, r.get("dst"), r.get("gateway"), r.get("dev"), r.get("protocol"), r.get("scope"),
                        r.get("metric"), r.get("table", "main")))
    return sorted(out, key=repr)


def normalize(result: dict | None, side: Side) -> dict | None:
    """A result with the container path replaced and random MACs masked; empty dns dropped (1.1.1 prints {})."""
    if result is None:
        return None
    text = json.dumps(result).replace(side.cont_path, "<netns>")
    out = json.loads(text)
    for intf in out.get("interfaces", []):
        if MAC_RE.match(intf.get("mac", "")) and not intf["mac"].startswith("0a:58:"):
            intf["mac"] = "<mac>"
    if out.get("dns") == {}:
        del out["dns"]
    return out


def add_check_del_both(ours: Side, ref: Side, cfg: dict) -> dict:
    """ADD `cfg` on both sides: the same result (normalized), link (txqlen aside), addresses and routes; then on
    each side CHECK passes, DEL removes the link and DEL again succeeds. Returns pycni's link state after ADD."""
    r_ours, r_ref = ours.add(cfg), ref.add(cfg)
    assert normalize(r_ours, ours) == normalize(r_ref, ref)
    st = link_state_head(ours.cont, "eth0")
    assert st == link_state_head(ref.cont, "eth0")
    assert addr_state(ours.cont, "eth0") == addr_state(ref.cont, "eth0")
    assert route_state(ours.cont) == route_state(ref.cont)
    for side, res in ((ours, r_ours), (ref, r_ref)):
        side.ok("CHECK", dict(cfg, prevResult=res))
        side.ok("DEL", cfg)
        assert link_names(side.cont) == ["lo"]
        side.ok("DEL", cfg)
    return st


def twin(factory: NetnsFactory, pycni_dir: str, name: str) -> tuple[Side, Side]:
    """(pycni side, reference side); skips when the reference binary is absent."""
    ref_exe = need_reference(name)
    return Side(factory, os.path.join(pycni_dir, name), pycni_dir, "p"), Side(factory, ref_exe, pycni_dir, "r")


def single(factory: NetnsFactory, pycni_dir: str, name: str) -> Side:
    return Side(factory, os.path.join(pycni_dir, name), pycni_dir, "p")


def fails_like_reference_without_kind(factory: NetnsFactory, pycni_dir: str, kind: str, cfg: dict,
                                      *probe: str) -> None:
    """Where this kernel cannot create `kind` links, pycni and the reference fail ADD alike and leave nothing
    behind (skipped where it can)."""
    if kind_supported(factory, kind, *probe) is None:
        pytest.skip(f"this kernel supports {kind} links")
    ours, ref = twin(factory, pycni_dir, kind)
    assert ours.error("ADD", cfg) == ref.error("ADD", cfg) == f"failed to create {kind}: operation not supported"
    assert link_names(ours.cont) == ["lo"] and link_names(ours.host) == ["lo", "up0"]


def need_kind(factory: NetnsFactory, kind: str, *extra: str) -> None:
    """Skip the test unless this kernel can create `kind` links."""
    reason = kind_supported(factory, kind, *extra)
    if reason:
        pytest.skip(reason)


def kind_supported(factory: NetnsFactory, kind: str, *extra: str) -> str | None:
    """None if this kernel can create a `kind` link (tried on a veth in a throwaway netns), else why not."""
    ns = factory.new("probe")
    ip(ns, "link", "add", "pr0", "type", "veth", "peer", "name", "pr1")
    args = ["link", "add"] + (["link", "pr0"] if kind in ("ipvlan", "vlan") else []) + ["name", "pk0", "type", kind]
    p = sh("ip", "-n", ns, *args, *extra, check=False)
    if p.returncode != 0:
        return f"this kernel cannot create {kind} links (`ip link add type {kind}`: {p.stderr.strip()})"
    return None
