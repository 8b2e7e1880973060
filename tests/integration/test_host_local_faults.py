"""host-local under storage faults: a full disk during ADD, a read-only data directory during DEL.

ADD is all or nothing: the data directory lives on a tiny tmpfs that is filled so that exactly the
k-th page (or inode) ADD needs is missing, for every k until ADD succeeds; a failed ADD must leave
no reservation behind. DEL that cannot remove a reservation (read-only bind mount) must fail, so
the runtime retries. Root only (mount); every mount is undone even on failure.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess

import pytest

from pycni.plugins.ipam.host_local.store import inspect

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")

PAGE = 4096
RANGES = [[{"subnet": "10.40.0.0/24"}], [{"subnet": "2001:db8:40::/64"}]]


def call(exe: str, cmd: str, data_dir: str, cid: str, ifname: str = "eth0"):
    conf = {"cniVersion": "1.1.0", "name": "full", "ipam": {"type": "host-local", "dataDir": data_dir,
                                                            "ranges": RANGES}}
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": cid, "CNI_NETNS": "/var/run/netns/none", "CNI_IFNAME": ifname,
           "CNI_PATH": "/opt/cni/bin", "PATH": os.environ.get("PATH", "")}
    p = subprocess.run([exe], input=json.dumps(conf).encode(), env=env, capture_output=True, timeout=60)
    return p.returncode, (json.loads(p.stdout) if p.stdout.strip() else None)


@contextlib.contextmanager
def mounted(target, *args: str):
    os.makedirs(target, exist_ok=True)
    subprocess.run(["mount", *args, str(target)], check=True, capture_output=True)
    try:
        yield str(target)
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


def holders(data_dir: str) -> dict[str, str]:
    d = os.path.join(data_dir, "full")
    out = {}
    for n in os.listdir(d):
        if n[0].isdigit() or ":" in n:
            with open(os.path.join(d, n), "rb") as f:
                out[n] = f.read().decode()
    return out


def leave_free(mnt: str, kind: str, k: int) -> list[str]:
    """Fill the tmpfs, then give back exactly k pages or k inodes; returns the filler files."""
    if kind == "inodes":
        made: list[str] = []
        while True:
            p = os.path.join(mnt, f"filler{len(made)}")
            try:
                os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
            made.append(p)
        for p in made[len(made) - k:] if k else []:
            os.unlink(p)
        return made[: len(made) - k]
    filler = os.path.join(mnt, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        chunk = b"x" * PAGE
        while True:
            try:
                os.write(fd, chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        size = os.fstat(fd).st_size
        assert size % PAGE == 0
        os.ftruncate(fd, size - k * PAGE)
    finally:
        os.close(fd)
    return [filler]


def one_case(exe: str, mnt: str, kind: str, k: int) -> tuple[int, dict | None, list[str]]:
    """Bystanders with room to spare, then the victim's ADD with the disk full but for k pages/inodes.

    Returns (ADD's exit code, its output, the addresses the victim holds after it)."""
    data = os.path.join(mnt, "data")
    for i in range(3):
        assert call(exe, "ADD", data, f"bystander{i}")[0] == 0
    before = holders(data)
    fillers = leave_free(mnt, kind, k)
    rc, out = call(exe, "ADD", data, "victim")
    after = holders(data)
    victim = sorted(n for n, k in after.items() if k == "victim\r\neth0")
    assert {n: k for n, k in after.items() if k != "victim\r\neth0"} == before  # bystanders untouched
    for f in fillers:
        os.unlink(f)
    # With room again: a failed ADD is retried by the runtime as DEL, ADD; both must work.
    if rc != 0:
        assert call(exe, "DEL", data, "victim") == (0, None)
    rc2, out2 = call(exe, "ADD", data, "victim") if rc != 0 else (0, out)
    assert rc2 == 0, out2
    assert len(holders(data)) == len(before) + 2
    assert call(exe, "CHECK", data, "victim")[0] == 0
    fresh, problems = inspect.check_index(data, "full")
    assert fresh and problems == []
    assert os.listdir(os.path.join(mnt, "data", ".pycni-index", "full", "tmp")) == []
    return rc, out, victim


def sweep(exe: str, tmp_path, kind: str) -> list[tuple[int, int, list[str]]]:
    """(k, exit code, addresses left to the victim) for k = 0, 1, ... until ADD succeeds twice."""
    seen: list[tuple[int, int, list[str]]] = []
    successes = 0
    for k in range(40):
        opts = "size=2m,nr_inodes=200" if kind == "pages" else "size=2m,nr_inodes=60"
        with mounted(tmp_path / f"{kind}{k}", "-t", "tmpfs", "-o", opts, "tmpfs") as mnt:
            rc, out, victim = one_case(exe, mnt, kind, k)
        seen.append((k, rc, victim))
        if rc == 0:
            assert len(victim) == 2, victim
            successes += 1
            if successes == 2:
                break
        else:
            assert out["msg"].startswith("failed to allocate for range"), out
            assert "no space left on device" in out["msg"], out
    assert successes == 2, seen
    return seen


@pytest.mark.parametrize("kind", ["pages", "inodes"])
def test_add_on_a_full_disk_is_all_or_nothing(tmp_path, pycni_bin, kind):
    seen = sweep(pycni_bin, tmp_path, kind)
    failed = [(k, victim) for k, rc, victim in seen if rc != 0]
    print(f"{kind}: {len(failed)} failing ADDs (k={[k for k, _ in failed]}), "
          f"reservations left behind: {[(k, v) for k, v in failed if v]}")
    assert failed, "the sweep never made ADD fail"
    assert [(k, v) for k, v in failed if v] == []


def test_del_that_cannot_remove_the_reservation_fails(tmp_path, pycni_bin):
    data = str(tmp_path / "data")
    rc, out = call(pycni_bin, "ADD", data, "victim")
    assert rc == 0, out
    held = holders(data)
    with mounted(tmp_path / "ro", "--bind", data) as ro:
        subprocess.run(["mount", "-o", "remount,bind,ro", ro], check=True, capture_output=True)
        rc, out = call(pycni_bin, "DEL", ro, "victim")
        assert rc == 1, out
        ip4 = next(n for n in held if "." in n)
        assert out["code"] == 999
        ip6 = next(n for n in held if ":" in n)
        assert out["msg"] == (f"failed to release: remove {ro}/full/{ip4}: read-only file system; "
                              f"remove {ro}/full/{ip6}: read-only file system"), out
        assert holders(data) == held  # still reserved: the runtime must retry
        assert call(pycni_bin, "CHECK", ro, "victim")[0] == 0
    assert call(pycni_bin, "DEL", data, "victim") == (0, None)  # writable again: the retry succeeds
    assert holders(data) == {}
    fresh, problems = inspect.check_index(data, "full")
    assert problems == []
