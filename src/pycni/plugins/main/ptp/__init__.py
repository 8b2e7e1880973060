"""`ptp`: a veth pair per container, routed point-to-point through the host.

The declaration: what VERSION needs. The handlers are in `plugin.py`, DEL's in `delete.py` (it needs
none of ADD's address and route machinery, so it does not load it).
"""

from pycni.skel import Plugin

PLUGIN = Plugin("ptp", impl="pycni.plugins.main.ptp.plugin", by_command={"DEL": "pycni.plugins.main.ptp.delete"})
