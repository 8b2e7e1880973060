"""`dhcp` IPAM: leases from a DHCP server, held and renewed by `dhcp daemon`; the exec only asks the daemon.

The declaration: what VERSION needs. The exec role is in `plugin.py`, the daemon in `daemon.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("dhcp", impl="pycni.plugins.ipam.dhcp.plugin", commands={"daemon": "pycni.plugins.ipam.dhcp.daemon:main"})
