"""`dummy`: a dummy interface named CNI_IFNAME inside the container, addressed by IPAM.

The declaration: what VERSION needs. The handlers are in `plugin.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("dummy", impl="pycni.plugins.main.dummy.plugin")
