"""The benchmark's whereabouts-style baseline IPAM, exec'd per call like a plugin (bench only).

One etcd key holds the whole range ("<offset> <containerID>\\n" lines, as whereabouts' old etcd
backend stored it); ADD reads it, walks from the first address to the lowest free one, and writes
it back with compare-and-swap on the key's mod revision, retrying on conflict (at once by default). Same process start and the same stdlib gateway client as cluster-ipam: only the algorithm
differs. Usage (env): BASE_ENDPOINTS=a,b,c BASE_CMD=ADD|DEL BASE_CID=... python3 -I -S this_file SRC
Prints the address (ADD) and "stats rt=<round trips> cas=<conflicts>" on stderr.
"""

import posix
import sys
import time

if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])

from pycni.plugins.ipam.cluster_ipam.etcd import (
    Client,
    Endpoint,
    cmp_absent,
    cmp_mod,
    kvs,
    op_put,
    op_range,
)

KEY = b"/bench/whereabouts/10.200.0.0-16"
NET = (10 << 24) | (200 << 16)
SIZE = 1 << 16
# Pause after a lost CAS: 0 = retry at once (the reference lab's baseline: no lock, no pause);
# BASE_BACKOFF_MS sets a random pause up to that many ms.
BACKOFF = float(posix.environ.get(b"BASE_BACKOFF_MS", b"0")) / 1000


def allocate(c: Client, cmd: str, cid: str) -> tuple[int, str, int]:
    """One whereabouts-style ADD or DEL: (exit status, address or "", CAS conflicts)."""
    cas = 0
    for _ in range(2000):
        _, res = c.txn([], [op_range(KEY)])
        found = kvs(res[0])
        text = found[0].value.decode() if found else ""
        pool = dict(line.split(" ", 1) for line in text.splitlines() if line)
        guard = cmp_mod(KEY, found[0].mod) if found else cmp_absent(KEY)
        ip = None
        if cmd == "ADD":
            for off in range(1, SIZE - 1):  # the whole-range walk, lowest free first
                if str(off) not in pool:
                    ip = off
                    break
            if ip is None:
                return 1, "", cas
            pool[str(ip)] = cid
        else:
            pool = {k: v for k, v in pool.items() if v != cid}
        value = "".join(f"{k} {v}\n" for k, v in pool.items()).encode()
        ok, _ = c.txn([guard], [op_put(KEY, value)])
        if ok:
            if ip is None:
                return 0, "", cas
            v = NET + ip
            return 0, f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}", cas
        cas += 1
        if BACKOFF:
            time.sleep(int.from_bytes(posix.urandom(2), "little") / 65535 * BACKOFF)
    return 1, "", cas


def main() -> int:
    env = posix.environ
    eps = [Endpoint(e, False) for e in env[b"BASE_ENDPOINTS"].decode().split(",")]
    cmd, cid = env[b"BASE_CMD"].decode(), env[b"BASE_CID"].decode()
    c = Client(eps, start=posix.getpid() % len(eps), budget=4.0)
    rc, ip, cas = allocate(c, cmd, cid)
    if ip:
        sys.stdout.write(ip + "\n")
    sys.stderr.write(f"stats rt={c.round_trips} cas={cas}\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
