"""`static` IPAM: hands out exactly the addresses, routes and DNS it is configured with.

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("static", impl="pycni.plugins.ipam.static.plugin")
