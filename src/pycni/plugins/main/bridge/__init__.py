"""`bridge`: a veth pair per container, the host end enslaved to a Linux bridge.

The declaration: what VERSION needs. The handlers are in `plugin.py`, DEL's in `delete.py` (it needs none
of ADD's bridge, address and route machinery, so it does not load it), the config in `config.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("bridge", impl="pycni.plugins.main.bridge.plugin",
                by_command={"DEL": "pycni.plugins.main.bridge.delete"})
