"""firewall's configuration: backend, admin chain, firewalld zone, ingress policy, and prevResult.

Pure: no I/O. Every message is upstream's.
"""

from __future__ import annotations

from pycni.plugins.shared.conf import decode_conf
from pycni.plugins.shared.prev_result import load_prev_result
from pycni.spec.godecode import STRING

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FIELDS: list[tuple[str, Any]] = [("backend", STRING), ("iptablesAdminChainName", STRING), ("firewalldZone", STRING),
                                 ("ingressPolicy", STRING)]


def parse_conf(raw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(conf, prevResult converted to 1.1.0, or {} without one)."""
    conf = decode_conf(raw, FIELDS, "failed to load netconf", "FirewallNetConf")
    if not conf.get("firewalldZone"):
        conf["firewalldZone"] = "trusted"
    _, prev = load_prev_result(conf)
    return conf, {} if prev is None else prev
