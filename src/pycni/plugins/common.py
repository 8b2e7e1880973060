"""Transitional: the old grab bag's names, each resolved from its new home in `pycni.plugins.shared`.

Import from `pycni.plugins.shared.<module>` instead; this module goes once nothing imports it.
Resolves lazily (PEP 562) so importing it costs nothing beyond the names used (transitional, hence
the function-local imports).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_HOME = {
    "decode_conf": "conf", "runtime_mac_field": "conf", "uint32_field": "conf", "ipam_type": "conf",
    "mac_override": "mac", "apply_mac_overrides": "mac", "check_mac_arg": "mac",
    "check_netns": "netns", "netns_present": "netns",
    "load_prev_result": "prev_result", "required_prev_result": "prev_result", "container_iface": "prev_result",
    "PREV_PARSE_TEXT": "prev_result", "PREV_CONVERT_TEXT": "prev_result",
    "container_link": "check", "check_container_mac": "check", "check_ips_routes": "check",
    "lookup_master": "master", "find_master": "master", "check_master_mtu": "master", "default_master": "master",
    "drop_link": "attach", "rename_temp_link": "attach", "create_in_netns": "attach",
    "delete_link_quietly": "attach", "release_quietly": "lease", "ipam_ips": "lease", "AddRollback": "attach",
    "attach_l3_or_l2": "attach", "set_notify_sysctls": "attach", "set_up_l2": "attach",
    "delete_attachment": "teardown", "forward": "forward",
}


def __getattr__(name: str) -> Any:
    # Spelled-out imports, so the bundle builder (which reads import statements) sees every home.
    home = _HOME.get(name)
    if home == "conf":
        from pycni.plugins.shared import conf

        return getattr(conf, name)
    if home == "mac":
        from pycni.plugins.shared import mac

        return getattr(mac, name)
    if home == "netns":
        from pycni.plugins.shared import netns

        return getattr(netns, name)
    if home == "prev_result":
        from pycni.plugins.shared import prev_result

        return getattr(prev_result, name)
    if home == "check":
        from pycni.plugins.shared import check

        return getattr(check, name)
    if home == "master":
        from pycni.plugins.shared import master

        return getattr(master, name)
    if home == "attach":
        from pycni.plugins.shared import attach

        return getattr(attach, name)
    if home == "lease":
        from pycni.plugins.shared import lease

        return getattr(lease, name)
    if home == "teardown":
        from pycni.plugins.shared import teardown

        return getattr(teardown, name)
    if home == "forward":
        from pycni.plugins.shared import forward

        return getattr(forward, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
