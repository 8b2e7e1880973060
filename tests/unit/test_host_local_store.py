"""host-local's disk store: the index beside the reference layout, staleness detection, the lock."""

from __future__ import annotations

import fcntl
import json
import os
import posix
import threading
import time

import pytest

from pycni import skel
from pycni.plugins.ipam import host_local as HL
from pycni.plugins.ipam.host_local import store as S
from pycni.plugins.ipam.host_local.store import gofs, index, inspect, layout
from pycni.spec import ipnet


def run(cmd: str, conf: dict, cid: str = "c1", ifname: str = "eth0", args: str = ""):
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": cid, "CNI_NETNS": "/x", "CNI_IFNAME": ifname,
           "CNI_PATH": "/x", "CNI_ARGS": args}
    return skel.run(HL.PLUGIN, env, json.dumps(conf).encode())


def ok(o):
    assert o.error is None, o.error.to_json()
    return o


def conf(tmp_path, subnet: str = "10.0.0.0/16", ver: str = "1.1.0") -> dict:
    return {"cniVersion": ver, "name": "net1", "ipam": {"type": "host-local", "dataDir": str(tmp_path),
                                                        "subnet": subnet}}


def addr(o) -> str:
    return o.result["ips"][0]["address"]


def fresh_and_agrees(tmp_path) -> None:
    fresh, problems = inspect.check_index(str(tmp_path), "net1")
    assert fresh, "index marker is stale after a completed command"
    assert problems == []


def test_index_matches_the_directory_after_every_command(tmp_path):
    c = conf(tmp_path)
    for i in range(20):
        ok(run("ADD", c, cid=f"c{i}"))
        fresh_and_agrees(tmp_path)
    for i in range(0, 20, 3):
        ok(run("DEL", c, cid=f"c{i}"))
        fresh_and_agrees(tmp_path)
    state = inspect.read_state(str(tmp_path), "net1")
    assert state.count == 13
    assert state.ranges == ["0 10.0.0.0/16|10.0.0.1|10.0.255.254|10.0.0.1"]


def test_index_lives_outside_the_network_directory(tmp_path):
    ok(run("ADD", conf(tmp_path)))
    assert sorted(os.listdir(tmp_path / "net1")) == ["10.0.0.2", "last_reserved_ip.0", "lock"]
    assert sorted(os.listdir(tmp_path / ".pycni-index" / "net1")) == ["keys", "state", "tmp"]


def test_foreign_allocation_is_seen(tmp_path):
    """Another writer (the reference binary) adds a file: the marker goes stale, one rescan."""
    c = conf(tmp_path)
    ok(run("ADD", c, cid="c1"))
    (tmp_path / "net1" / "10.0.0.50").write_text("ref\r\neth0")
    assert inspect.check_index(str(tmp_path), "net1")[0] is False
    e = run("ADD", c, cid="ref").error
    assert e.msg == "failed to allocate for range 0: 10.0.0.50 has been allocated to ref, duplicate allocation is not allowed"
    fresh_and_agrees(tmp_path)
    ok(run("CHECK", c, cid="ref"))
    ok(run("DEL", c, cid="ref"))
    assert not (tmp_path / "net1" / "10.0.0.50").exists()
    fresh_and_agrees(tmp_path)


def test_foreign_release_is_seen(tmp_path):
    c = conf(tmp_path)
    ok(run("ADD", c, cid="c1"))
    os.unlink(tmp_path / "net1" / "10.0.0.2")
    assert addr(ok(run("ADD", c, cid="c1"))) == "10.0.0.3/16"
    fresh_and_agrees(tmp_path)


def test_foreign_change_hidden_behind_a_restored_mtime_is_caught_by_ctime(tmp_path):
    """A coarse clock could give a foreign change the recorded mtime; ctime still moves."""
    c = conf(tmp_path)
    ok(run("ADD", c, cid="c1"))
    d = tmp_path / "net1"
    st = os.stat(d)
    time.sleep(0.01)
    (d / "10.0.0.60").write_text("ref\r\neth0")
    os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(d).st_mtime_ns == st.st_mtime_ns
    assert run("ADD", c, cid="ref").error.msg.endswith("duplicate allocation is not allowed")


def test_in_place_rewrite_is_caught_when_the_entry_is_used(tmp_path):
    c = conf(tmp_path)
    ok(run("ADD", c, cid="c1"))
    with open(tmp_path / "net1" / "10.0.0.2", "w") as f:
        f.write("c7\r\neth0")  # same name, new holder: the directory does not change
    ok(run("ADD", c, cid="c1"))  # c1's entry is re-read, found wrong, index rebuilt
    assert run("ADD", c, cid="c7").error.msg.endswith("10.0.0.2 has been allocated to c7, duplicate allocation is not allowed")
    fresh_and_agrees(tmp_path)


def test_reboot_rebuilds(tmp_path, monkeypatch):
    c = conf(tmp_path)
    ok(run("ADD", c, cid="c1"))
    calls = []
    real = S.scan_dir
    monkeypatch.setattr(S, "scan_dir", lambda *a, **k: calls.append(1) or real(*a, **k))
    ok(run("ADD", c, cid="c2"))
    assert calls == []  # trusted: no scan
    monkeypatch.setattr(index, "boot_id", lambda: "another-boot")
    ok(run("ADD", c, cid="c3"))
    assert calls == [1]
    ok(run("ADD", c, cid="c4"))
    assert calls == [1]


def test_add_and_del_read_no_allocation_file_but_their_own(tmp_path, monkeypatch):
    """Flat cost: with 500 allocations, ADD and DEL open only a handful of files."""
    c = conf(tmp_path)
    d = tmp_path / "net1"
    d.mkdir()
    for i in range(500):
        (d / f"10.0.{100 + i // 250}.{1 + i % 250}").write_text(f"x{i}\r\neth0")
    ok(run("ADD", c, cid="warm"))  # first command rebuilds the index once
    opened: list[str] = []
    real_open = os.open

    def spy(path, *a, **k):
        opened.append(str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(posix, "open", spy)
    ok(run("ADD", c, cid="c1"))
    ok(run("DEL", c, cid="c1"))
    reads = [p for p in opened if p.startswith(str(d) + "/10.")]
    assert len(opened) < 30, opened
    assert reads == [str(d / "10.0.0.3")], reads  # DEL re-reads the one file it releases


def test_scan_mode_when_the_index_cannot_be_created(tmp_path):
    (tmp_path / ".pycni-index").write_text("not a directory")
    c = conf(tmp_path)
    assert addr(ok(run("ADD", c, cid="c1"))) == "10.0.0.2/16"
    assert run("ADD", c, cid="c1").error.msg.endswith("duplicate allocation is not allowed")
    assert addr(ok(run("ADD", c, cid="c2"))) == "10.0.0.3/16"
    ok(run("DEL", c, cid="c1"))
    assert sorted(os.listdir(tmp_path / "net1")) == ["10.0.0.3", "last_reserved_ip.0", "lock"]


def test_truncated_timestamps_fall_back_to_scanning(tmp_path, monkeypatch):
    real = os.utime

    def coarse(path, ns=None, **k):
        return real(path, ns=(ns[0], ns[1] - ns[1] % 1_000_000_000))

    monkeypatch.setattr(posix, "utime", coarse)
    c = conf(tmp_path)
    ok(run("ADD", c, cid="c1"))
    assert inspect.read_state(str(tmp_path), "net1").mode == "scan"
    (tmp_path / "net1" / "10.0.0.70").write_text("ref\r\neth0")
    assert run("ADD", c, cid="ref").error.msg.endswith("duplicate allocation is not allowed")


def test_leftover_staging_files_are_removed(tmp_path):
    c = conf(tmp_path)
    ok(run("ADD", c, cid="c1"))
    stage = tmp_path / ".pycni-index" / "net1" / "tmp"
    (stage / "123.1").write_text("c9\r\neth0")
    (tmp_path / "net1" / ".pycni-tmp.123.2").write_text("c9\r\neth0")
    os.utime(tmp_path / "net1")  # as a killed command's own change would
    ok(run("ADD", c, cid="c2"))
    assert os.listdir(stage) == []
    assert not (tmp_path / "net1" / ".pycni-tmp.123.2").exists()


def test_many_consecutive_taken_addresses(tmp_path):
    c = conf(tmp_path, "10.0.0.0/22")
    d = tmp_path / "net1"
    d.mkdir()
    for i in range(2, 300):
        (d / f"10.0.{i // 256}.{i % 256}").write_text(f"x{i}\r\neth0")
    assert addr(ok(run("ADD", c, cid="c1"))) == "10.0.1.44/22"
    fresh_and_agrees(tmp_path)


@pytest.mark.parametrize("key", ["plain", "a b", "é\r\nif", "100%", "", "x" * 300, "\udcff\r\neth0", "k\nl"])
def test_bucket_escaping_round_trips(key):
    e = index.esc(key)
    assert " " not in e and "\n" not in e
    assert index.unesc(e) == key


def test_odd_keys_survive_the_index(tmp_path):
    d = tmp_path / "net1"
    d.mkdir()
    (d / "10.0.0.5").write_text("weird id\r\neth 0")
    (d / "10.0.0.6").write_text("")
    ok(run("ADD", conf(tmp_path), cid="c1"))
    fresh_and_agrees(tmp_path)
    entries, _, used_index = inspect.snapshot(str(tmp_path), "net1")
    assert used_index
    assert ("10.0.0.5", "weird id\r\neth 0") in entries and ("10.0.0.6", "") in entries


def test_go_trim_matches_go_whitespace():
    assert layout.go_trim(" \t\n\v\f\r\x85\xa0x\u3000") == "x"
    assert layout.go_trim("\x1cx\x1f") == "\x1cx\x1f"  # Python strips these, Go does not


# --- lock (upstream disk/lock_test.go and the flock semantics) ----------------------------------


def test_lock_on_existing_regular_file(tmp_path):  # K1
    d = tmp_path / "net1"
    d.mkdir()
    (d / "lock").write_text("")
    s = S.Store("net1", str(tmp_path))
    s.lock()
    s.close()


def test_lock_file_created_in_directory(tmp_path):  # K2
    s = S.Store("net1", str(tmp_path))
    assert (tmp_path / "net1" / "lock").exists()
    s.lock()
    s.close()


def test_lock_is_flock_and_excludes_others(tmp_path):
    s = S.Store("net1", str(tmp_path))
    s.lock()
    fd = os.open(str(tmp_path / "net1" / "lock"), os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        got = []
        t = threading.Thread(target=lambda: (fcntl.flock(fd, fcntl.LOCK_EX), got.append(1)))
        t.start()
        time.sleep(0.05)
        assert got == []
        s.close()
        t.join(2)
        assert got == [1]
    finally:
        os.close(fd)


def test_lock_open_error_is_bare_errno(tmp_path):
    d = tmp_path / "net1"
    (d / "lock").mkdir(parents=True)
    with pytest.raises(ValueError) as e:
        S.Store("net1", str(tmp_path))
    assert str(e.value) == "is a directory"


def test_mkdir_all_error_names_the_failing_path(tmp_path):
    f = tmp_path / "f"
    f.write_text("")
    with pytest.raises(ValueError) as e:
        gofs.mkdir_all(str(f / "a" / "b"), 0o755)
    assert str(e.value) == f"mkdir {f}: not a directory"


def test_only_the_reservation_is_fsynced_not_the_last_reserved_hint(tmp_path, monkeypatch):
    synced: list[str] = []
    real_fsync = posix.fsync

    def spy(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(posix, "fsync", spy)
    s = S.Store("net1", str(tmp_path))
    s.lock()
    s.load()
    try:
        assert s.reserve("c1", "eth0", ipnet.parse_ip("10.0.0.9"), "0")
    finally:
        s.close()
    assert len(synced) == 1  # the staged reservation, before it is linked as net1/10.0.0.9
    assert (tmp_path / "net1" / "last_reserved_ip.0").read_bytes() == b"10.0.0.9"
    # a torn hint (a crash before its data reached the disk) reads as no hint
    (tmp_path / "net1" / "last_reserved_ip.0").write_bytes(b"")
    assert layout.read_last_reserved(str(tmp_path / "net1"), "0") is None


def test_reservation_file_is_never_partial(tmp_path):
    """The file appears by link(2) of a complete, fsynced staging file."""
    s = S.Store("net1", str(tmp_path))
    s.lock()
    s.load()
    seen = []
    real_link = os.link

    def spy(src, dst, *a, **k):
        with open(src, "rb") as f:
            seen.append(f.read())
        return real_link(src, dst, *a, **k)

    posix.link = spy
    try:
        assert s.reserve("c1", "eth0", ipnet.parse_ip("10.0.0.9"), "0")
    finally:
        posix.link = real_link
        s.close()
    assert seen == [b"c1\r\neth0"]
    assert (tmp_path / "net1" / "10.0.0.9").read_bytes() == b"c1\r\neth0"
    assert os.stat(tmp_path / "net1" / "10.0.0.9").st_nlink == 1


def test_rebuild_in_the_middle_of_a_del(tmp_path):
    """DEL over two sets unlinks, then its legacy lookup meets a rewritten entry and rebuilds."""
    c = {"cniVersion": "1.1.0", "name": "net1", "ipam": {"dataDir": str(tmp_path), "ranges": [
        [{"subnet": "10.0.0.0/24"}], [{"subnet": "10.1.0.0/24"}]]}}
    d = tmp_path / "net1"
    d.mkdir()
    (d / "10.1.0.77").write_text("c1")  # a legacy id-only file
    ok(run("CHECK", c, cid="c1", ifname="eth4"))  # first command: rebuilds, finds the legacy file
    with open(d / "10.1.0.77", "w") as f:
        f.write("zzz")  # in place: only the re-check of the entry can notice
    ok(run("ADD", c, cid="c1", ifname="eth1"))  # duplicate check re-reads the legacy entry: rebuild
    fresh_and_agrees(tmp_path)
    (d / "10.1.0.88").write_text("c1")
    ok(run("CHECK", c, cid="c1", ifname="eth1"))  # marker stale: rebuild, 10.1.0.88 indexed as "c1"
    with open(d / "10.1.0.88", "w") as f:
        f.write("yyy")
    ok(run("DEL", c, cid="c1", ifname="eth1"))  # set 0: unlinks c1/eth1's two files; set 1: legacy re-check
    fresh_and_agrees(tmp_path)
    assert sorted(n for n in os.listdir(d) if n[0] == "1") == ["10.1.0.77", "10.1.0.88"]


def test_os_errors_carry_go_errno_text(tmp_path, monkeypatch):
    """Texts come from gofmt: first letter lowered only before a lower-case letter, as Go's table."""
    import errno

    def full(src, dst, *a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(posix, "link", full)
    e = run("ADD", conf(tmp_path), cid="c1").error
    assert e.msg == f"failed to allocate for range 0: open {tmp_path}/net1/10.0.0.2: no space left on device"

    def odd(src, dst, *a, **k):
        raise OSError(errno.EDOTDOT, os.strerror(errno.EDOTDOT))

    monkeypatch.setattr(posix, "link", odd)
    e = run("ADD", conf(tmp_path), cid="c1").error
    assert e.msg == f"failed to allocate for range 0: open {tmp_path}/net1/10.0.0.2: RFS specific error"


def test_add_that_cannot_record_the_last_reserved_ip_keeps_nothing(tmp_path, monkeypatch):
    """All or nothing: the address file is linked, then last_reserved_ip cannot be written."""
    import errno

    c = {"cniVersion": "1.1.0", "name": "net1", "ipam": {"dataDir": str(tmp_path), "ranges": [
        [{"subnet": "10.0.0.0/24"}], [{"subnet": "10.1.0.0/24"}]]}}
    ok(run("ADD", c, cid="c0"))
    real = os.rename

    def full(src, dst, *a, **k):
        if str(dst).endswith("last_reserved_ip.1"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(posix, "rename", full)
    e = run("ADD", c, cid="c1").error
    assert e.msg == f"failed to allocate for range 1: open {tmp_path}/net1/last_reserved_ip.1: no space left on device"
    monkeypatch.setattr(posix, "rename", real)
    held = {n: (tmp_path / "net1" / n).read_bytes().decode() for n in os.listdir(tmp_path / "net1") if n[0] == "1"}
    assert held == {"10.0.0.2": "c0\r\neth0", "10.1.0.2": "c0\r\neth0"}  # neither of c1's two addresses
    assert os.listdir(tmp_path / ".pycni-index" / "net1" / "tmp") == []
    fresh_and_agrees(tmp_path)
    ok(run("ADD", c, cid="c1"))
    fresh_and_agrees(tmp_path)


def test_del_that_cannot_unlink_fails_and_keeps_the_index_true(tmp_path, monkeypatch):
    import errno

    c = conf(tmp_path)
    ok(run("ADD", c, cid="c1"))
    real = os.unlink

    def ro(path, *a, **k):
        if str(path).endswith("/10.0.0.2"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(path, *a, **k)

    monkeypatch.setattr(posix, "unlink", ro)
    e = run("DEL", c, cid="c1").error
    assert e.msg == f"failed to release: remove {tmp_path}/net1/10.0.0.2: read-only file system"
    assert (tmp_path / "net1" / "10.0.0.2").exists()
    ok(run("CHECK", c, cid="c1"))
    monkeypatch.setattr(posix, "unlink", real)
    fresh_and_agrees(tmp_path)
    ok(run("DEL", c, cid="c1"))
    assert not (tmp_path / "net1" / "10.0.0.2").exists()
    fresh_and_agrees(tmp_path)
