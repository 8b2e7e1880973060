"""The plugins pycni implements: executable name -> module. One line per plugin.

install-plugins writes one launcher per entry; invoke runs a found launcher in-process.
"""

from __future__ import annotations

PLUGINS: dict[str, str] = {
    "static": "pycni.plugins.ipam.static",
    "host-local": "pycni.plugins.ipam.host_local",
    "dhcp": "pycni.plugins.ipam.dhcp",
    "cluster-ipam": "pycni.plugins.ipam.cluster_ipam",
    "ptp": "pycni.plugins.main.ptp",
    "loopback": "pycni.plugins.main.loopback",
    "bridge": "pycni.plugins.main.bridge",
    "portmap": "pycni.plugins.meta.portmap",
    "firewall": "pycni.plugins.meta.firewall",
    "tuning": "pycni.plugins.meta.tuning",
    "bandwidth": "pycni.plugins.meta.bandwidth",
    "sbr": "pycni.plugins.meta.sbr",
    "vrf": "pycni.plugins.meta.vrf",
    "macvlan": "pycni.plugins.main.macvlan",
    "host-device": "pycni.plugins.main.host_device",
    "tap": "pycni.plugins.main.tap",
    "ipvlan": "pycni.plugins.main.ipvlan",
    "vlan": "pycni.plugins.main.vlan",
    "dummy": "pycni.plugins.main.dummy",
}
