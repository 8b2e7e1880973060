"""cluster-ipam over TLS with client certificates, then with etcd auth (user/password) on top.

Certificates are made at test time with openssl (skipped without it): a CA, a server cert for
127.0.0.1 and a client cert without CN (etcd's gateway refuses a CN once auth is on).
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cluster_ipam_exec as X
import etcd_cluster

pytestmark = [pytest.mark.etcd,
              pytest.mark.skipif(not etcd_cluster.available(), reason="etcd (Debian etcd-server) not installed"),
              pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")]


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


@pytest.fixture(scope="module")
def exe(tmp_path_factory: pytest.TempPathFactory) -> str:
    return X.install(str(tmp_path_factory.mktemp("bin")))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str, str, str]:
    got = etcd_cluster.make_certs(str(tmp_path_factory.mktemp("pki")))
    assert got is not None
    return got


def test_tls_client_certs_then_auth(exe, certs, tmp_path):
    ca, scert, skey, ccert, ckey = certs
    with etcd_cluster.Cluster(tls=(ca, scert, skey), client_cert=(ccert, ckey)) as cluster:
        assert all(e.startswith("https://127.0.0.1:") for e in cluster.endpoints)
        tls = {"etcd_ca_cert_file": ca, "etcd_cert_file": ccert, "etcd_key_file": ckey}
        c = X.conf(cluster.endpoints, str(tmp_path / "l1"), name="tlsnet", range="10.95.0.0/24", **tls)
        a = X.run(exe, "ADD", c, "t1", "node0")
        assert a.rc == 0 and a.addresses[0].startswith("10.95.0."), a
        assert X.run(exe, "DEL", c, "t1", "node0").rc == 0

        # Without a client certificate, or trusting another CA: refused, and said so.
        no_cert = X.conf(cluster.endpoints, str(tmp_path / "l1"), name="tlsnet", range="10.95.0.0/24",
                         etcd_ca_cert_file=ca, etcd_budget_ms=1000)
        r = X.run(exe, "ADD", no_cert, "t2", "node0")
        assert r.rc == 1 and r.code == 11, r
        wrong_ca = X.conf(cluster.endpoints, str(tmp_path / "l1"), name="tlsnet", range="10.95.0.0/24",
                          etcd_ca_cert_file=scert, etcd_cert_file=ccert, etcd_key_file=ckey, etcd_budget_ms=1000)
        r = X.run(exe, "ADD", wrong_ca, "t2", "node0")
        assert r.rc == 1 and "CERTIFICATE_VERIFY_FAILED" in r.out["details"], r

        # etcd auth on: a role with READWRITE on /pycni/ only.
        for path, body in [
            ("/v3/auth/role/add", {"name": "root"}),
            ("/v3/auth/user/add", {"name": "root", "password": "rootpw"}),
            ("/v3/auth/user/grant", {"user": "root", "role": "root"}),
            ("/v3/auth/role/add", {"name": "pycni-rw"}),
            ("/v3/auth/role/grant", {"name": "pycni-rw", "perm": {"permType": "READWRITE", "key": b64("/pycni/"),
                                                                  "range_end": b64("/pycni0")}}),
            ("/v3/auth/user/add", {"name": "cni", "password": "cnipw"}),
            ("/v3/auth/user/grant", {"user": "cni", "role": "pycni-rw"}),
            ("/v3/auth/enable", {}),
        ]:
            cluster.call(path, body)
        root = {"Authorization": cluster.call("/v3/auth/authenticate", {"name": "root", "password": "rootpw"})["token"]}

        lock = tmp_path / "l2"
        auth = X.conf(cluster.endpoints, str(lock), name="authnet", range="10.96.0.0/24", etcd_username="cni",
                      etcd_password="cnipw", **tls)
        first = X.run(exe, "ADD", auth, "u1", "node0")
        assert first.rc == 0, first
        tokens = [p for p in os.listdir(lock) if p.startswith("token-")]
        assert len(tokens) == 1 and stat.S_IMODE(os.stat(lock / tokens[0]).st_mode) == 0o600
        second = X.run(exe, "ADD", auth, "u2", "node0")
        assert second.rc == 0 and second.stats["rt"] == 2  # the cached token: no authenticate call
        kv = cluster.prefix_kvs(f"{X.PREFIX}/authnet/", headers=root)
        assert X.check_invariants(kv, "authnet") == [] and len([k for k in kv if "/handles/" in k]) == 2

        bad = X.conf(cluster.endpoints, str(lock), name="authnet", range="10.96.0.0/24", etcd_username="cni",
                     etcd_password="wrong", **tls)
        r = X.run(exe, "ADD", bad, "u3", "node0")
        assert r.code == 7 and "authentication failed" in r.out["msg"], r
        outside = X.conf(cluster.endpoints, str(lock), name="authnet", range="10.96.0.0/24", etcd_username="cni",
                         etcd_password="cnipw", etcd_prefix="/elsewhere", **tls)
        r = X.run(exe, "ADD", outside, "u4", "node0")
        assert r.code == 999 and "permission denied" in r.out["msg"], r
        for cid in ("u1", "u2"):
            assert X.run(exe, "DEL", auth, cid, "node0").rc == 0
        assert [k for k in cluster.prefix_kvs(f"{X.PREFIX}/authnet/", headers=root) if "/handles/" in k] == []
