"""`ptp`: a veth pair per container, routed point-to-point through the host.

The declaration: what VERSION needs. The handlers are in `plugin.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("ptp", impl="pycni.plugins.main.ptp.plugin")
