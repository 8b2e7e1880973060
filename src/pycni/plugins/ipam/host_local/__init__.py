"""`host-local` IPAM: addresses from configured ranges, reservations in files on the host.

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`,
the allocator in `allocator.py` and `range.py`, the files on disk in `store/`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("host-local", impl="pycni.plugins.ipam.host_local.plugin")
