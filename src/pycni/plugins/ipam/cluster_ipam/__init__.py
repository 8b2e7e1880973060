"""`cluster-ipam`: cluster-wide IPAM with its state in etcd v3 (through etcd's JSON gateway).

The declaration: what VERSION needs. Handlers in `plugin.py`, config in `config.py`, the etcd
client in `etcd.py`, block arithmetic in `blocks.py`, the transactions in `engine.py`.
"""

from pycni.skel import Plugin

PLUGIN = Plugin("cluster-ipam", impl="pycni.plugins.ipam.cluster_ipam.plugin")
