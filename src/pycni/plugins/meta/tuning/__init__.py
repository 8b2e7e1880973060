"""`tuning`: sysctls and link attributes of the container interface, restored on DEL.

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("tuning", impl="pycni.plugins.meta.tuning.plugin")
