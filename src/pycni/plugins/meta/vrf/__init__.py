"""`vrf`: put the container interface into a VRF device, creating the VRF on first use (CNI 0.3.1 and later).

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`.
"""

from pycni.skel import Plugin
from pycni.spec.version import ALL

PLUGIN = Plugin("vrf", impl="pycni.plugins.meta.vrf.plugin", versions=ALL[ALL.index("0.3.1"):])
