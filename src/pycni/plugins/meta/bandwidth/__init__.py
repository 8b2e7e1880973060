"""`bandwidth`: rate-limit a veth-attached container with tbf, both directions (CNI 0.3.0 and later).

The declaration: what VERSION needs. The handlers are in `plugin.py`, the config in `config.py`.
"""

from pycni.skel import Plugin
from pycni.spec.version import ALL

PLUGIN = Plugin("bandwidth", impl="pycni.plugins.meta.bandwidth.plugin", versions=ALL[ALL.index("0.3.0"):])
