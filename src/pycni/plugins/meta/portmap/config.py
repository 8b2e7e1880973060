"""portmap configuration: decoding with Go's rules, defaults, backend choice, the container's IPs.

Pure apart from the backend probe (which runs iptables/nft only when `backend` is not given).
Every message is upstream's (plugins/meta/portmap/main.go parseConfig / ensureBackend).
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.plugins.shared.conf import decode_conf
from pycni.plugins.shared.prev_result import load_prev_result
from pycni.spec import ipnet
from pycni.spec.godecode import BOOL, INT, STRING, Struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

IPTABLES = "iptables"
NFTABLES = "nftables"
DEFAULT_MARK_BIT = 13  # Kubernetes uses 14 and 15, Calico 20-31

_ENTRY = Struct("PortMapEntry", [("hostPort", INT), ("containerPort", INT), ("protocol", STRING),
                                 ("hostIP", STRING)], "main.PortMapEntry")
_RUNTIME = Struct("", [("portMappings", ("list", ("struct", _ENTRY), "[]main.PortMapEntry"))],
                  'struct { PortMaps []main.PortMapEntry "json:\\"portMappings,omitempty\\"" }')
FIELDS: list[tuple[str, Any]] = [
    ("backend", STRING),
    ("snat", BOOL),
    ("conditionsV4", ("list", STRING, "[]string")),
    ("conditionsV6", ("list", STRING, "[]string")),
    ("masqAll", BOOL),
    ("markMasqBit", INT),
    ("runtimeConfig", ("struct", _RUNTIME)),
    ("externalSetMarkChain", STRING),
]


def detect_backend_of_conditions(conditions: list[str] | None) -> str:
    """"iptables" when the first condition starts like an iptables match ('-' or '!'), else "nftables";
    "" when there are none."""
    if not conditions or conditions[0] == "":
        return ""
    return IPTABLES if conditions[0][0] in "-!" else NFTABLES


def ensure_backend(conf: dict[str, Any], probe: Callable[[], str] | None = None, needed: bool = True) -> None:
    """Set conf["backend"] when absent (iptables unless only nftables is usable) and reject options that
    belong to the other backend. Upstream probes on every call; when nothing depends on the answer (no
    mapping to make, no backend-specific option to judge: podman's usual call) it stays None and no
    iptables/nft process runs."""
    by_backend: dict[str, list[str]] = {}
    if conf.get("externalSetMarkChain") is not None:
        by_backend.setdefault(IPTABLES, []).append("externalSetMarkChain")
    for key in ("conditionsV4", "conditionsV6"):
        b = detect_backend_of_conditions(conf.get(key))
        if b:
            by_backend.setdefault(b, []).append(key)
    if conf.get("backend") is None:
        if not needed and not by_backend:
            conf["backend"] = None
            return
        conf["backend"] = (probe or default_backend)()
    wrong = NFTABLES if conf["backend"] == IPTABLES else IPTABLES
    if by_backend.get(wrong):
        raise ValueError(f"{conf['backend']} backend was requested but configuration contains "
                         f"{wrong}-specific options [{' '.join(by_backend[wrong])}]")


def default_backend() -> str:
    from pycni.linux import netfilter  # lazy: the probe is rare (see ensure_backend); the module is not

    if not netfilter.supports_iptables() and netfilter.supports_nftables():
        return NFTABLES
    return IPTABLES


def parse_config(raw: Any, ifname: str, probe: Callable[[], str] | None = None) -> tuple[dict[str, Any], Any]:
    """parseConfig: (conf, prevResult in its own version or None).

    conf gains "snat" (default True), "markMasqBit" (default 13), "backend", "portMappings" (list, maybe
    empty) and "contIPv4"/"contIPv6" (the chosen "ip/prefix" CIDR text or None). Raises ValueError.
    """
    conf = decode_conf(raw, FIELDS, "failed to parse network configuration", "PortMapConf")
    prev, cur = load_prev_result(conf)
    if conf.get("snat") is None:
        conf["snat"] = True
    if conf.get("markMasqBit") is not None and conf.get("externalSetMarkChain") is not None:
        raise ValueError("Cannot specify externalSetMarkChain and markMasqBit")
    if conf.get("markMasqBit") is None:
        conf["markMasqBit"] = DEFAULT_MARK_BIT
    if not 0 <= conf["markMasqBit"] <= 31:
        raise ValueError("MasqMarkBit must be between 0 and 31")
    wanted = (conf.get("runtimeConfig") or {}).get("portMappings") or []
    ensure_backend(conf, probe, needed=bool(wanted))
    if conf["backend"] not in (IPTABLES, NFTABLES, None):
        raise ValueError(f"unrecognized backend {q(conf['backend'])}")
    maps = [_entry(e) for e in wanted]
    for pm in maps:
        if pm["containerPort"] <= 0:
            raise ValueError(f"Invalid container port number: {pm['containerPort']}")
        if pm["hostPort"] <= 0:
            raise ValueError(f"Invalid host port number: {pm['hostPort']}")
    conf["portMappings"] = maps
    conf["contIPv4"], conf["contIPv6"] = container_ips(cur, ifname) if cur is not None else (None, None)
    return conf, prev


def _entry(e: dict[str, Any]) -> dict[str, Any]:
    return {"hostPort": e.get("hostPort", 0), "containerPort": e.get("containerPort", 0),
            "protocol": e.get("protocol", ""), "hostIP": e.get("hostIP", "")}


def container_ips(result: dict[str, Any], ifname: str) -> tuple[str | None, str | None]:
    """The first IPv4 and first IPv6 address of the result that is not on a known non-sandbox interface
    (an IP whose interface index names another interface, or one without a sandbox, is skipped)."""
    v4 = v6 = None
    ifaces = result.get("interfaces") or []
    for ipc in result.get("ips") or []:
        addr = ipc.get("address", "")
        is4 = ipnet.family_of(addr) == 4
        if (is4 and v4 is not None) or (not is4 and v6 is not None):
            continue
        idx = ipc.get("interface")
        if idx is not None and 0 <= idx < len(ifaces):
            intf = ifaces[idx]
            if intf.get("name", "") != ifname or intf.get("sandbox", "") == "":
                continue
        if is4:
            v4 = addr
        else:
            v6 = addr
    return v4, v6


def host_ip_family_ok(host_ip: str, v6: bool) -> tuple[bool, bool]:
    """For a mapping's hostIP: (use the mapping for this family, match on the destination address).

    Upstream treats an unparsable hostIP as IPv6 (net.ParseIP gives nil, whose To4() is nil).
    """
    if host_ip == "":
        return True, False
    ip = ipnet.parse_ip(host_ip)
    host_v6 = ip is None or ip[0] == 6
    if host_v6 != v6:
        return False, False
    return True, not (ip is not None and ip[1] == 0)
