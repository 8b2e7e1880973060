"""The result cache, in libcni's layout and format, so libcni-based tools read ours and we theirs.

One file per attachment: `<cacheDir>/results/<network>-<containerID>-<ifname>`, a compact JSON
object of kind "cniCacheV1" holding the conflist bytes (base64), the runtime arguments and the
final ADD result. Directories are made 0700, files 0600. Unlike libcni, a file is written
atomically (a temporary file in the same directory, fsync, rename), so a crash never leaves a
torn entry for DEL or GC to trip on. Reading follows libcni: a missing file is "no result".
"""

from __future__ import annotations

import os

from pycni.atomicfile import write_atomic as replace_file
from pycni.gofmt import q
from pycni.runtime.errors import CNIRuntimeError
from pycni.runtime.gomarshal import Ordered, go_any, marshal
from pycni.skel import decode_config_version
from pycni.spec import gojson
from pycni.spec import result as R
from pycni.spec.errors import CNIError
from pycni.spec.godecode import OBJECT, STRING, DecodeError, Struct, decode_struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_CACHE_DIR = "/var/lib/cni"
KIND = "cniCacheV1"


class CachedInfo:
    """A decoded cache file (libcni's cachedInfo)."""

    __slots__ = ("kind", "container_id", "config", "ifname", "network_name", "netns", "cni_args",
                 "capability_args", "raw_result")

    def __init__(self, d: dict[str, Any], config: bytes | None) -> None:
        self.kind: str = d.get("kind", "")
        self.container_id: str = d.get("containerId", "")
        self.config = config
        self.ifname: str = d.get("ifName", "")
        self.network_name: str = d.get("networkName", "")
        self.netns: str = d.get("netns", "")
        self.cni_args: list[tuple[str, str]] | None = d.get("cniArgs")
        self.capability_args: dict[str, Any] | None = d.get("capabilityArgs")
        self.raw_result: dict[str, Any] | None = d.get("result")


def file_path(cache_dir: str, network: str, container_id: str, ifname: str) -> str:
    if network == "" or container_id == "" or ifname == "":
        raise CNIRuntimeError(
            f"cache file path requires network name ({q(network)}), container ID "
            f"({q(container_id)}), and interface name ({q(ifname)})")
    return os.path.join(cache_dir or DEFAULT_CACHE_DIR, "results", f"{network}-{container_id}-{ifname}")


def encode(result_obj: dict[str, Any] | None, config: bytes, network: str, container_id: str, ifname: str,
           netns: str, cni_args: list[tuple[str, str]] | None, capability_args: dict[str, Any] | None) -> str:
    """The file's text: json.Marshal(cachedInfo), the result round-tripped through a Go map."""
    import base64  # lazy: heavy stdlib, only on this branch

    info: dict[str, Any] = Ordered()
    info["kind"] = KIND
    info["containerId"] = container_id
    info["config"] = base64.b64encode(config).decode("ascii")
    info["ifName"] = ifname
    info["networkName"] = network
    if netns:
        info["netns"] = netns
    if cni_args:
        info["cniArgs"] = [[k, v] for k, v in cni_args]
    if capability_args:
        info["capabilityArgs"] = capability_args
    if result_obj:
        info["result"] = go_any(result_obj)
    return marshal(info)


def _mkdir_all(path: str, mode: int) -> None:
    # os.MkdirAll: every directory it creates gets `mode` (less the umask), not only the last.
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path.rstrip("/"))
    if parent and parent != path:
        _mkdir_all(parent, mode)
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


def write_atomic(path: str, text: str) -> None:
    """Write `text` to `path` (0600, directories 0700) through a temporary file, fsync and rename."""
    _mkdir_all(os.path.dirname(path), 0o700)
    replace_file(path, text.encode("utf-8", "surrogateescape"), 0o600)


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def read_bytes(path: str) -> bytes | None:
    """The file's bytes, or None when it is missing or unreadable (libcni ignores read errors)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


_CACHED = None


def _shape() -> Any:
    global _CACHED
    if _CACHED is None:
        _CACHED = Struct("cachedInfo", [
            ("kind", STRING), ("containerId", STRING), ("config", STRING), ("ifName", STRING),
            ("networkName", STRING), ("netns", STRING),
            ("cniArgs", ("list", ("list", STRING, "[2]string"), "[][2]string")),
            ("capabilityArgs", OBJECT), ("result", OBJECT),
        ], "libcni.cachedInfo")
    return _CACHED


def decode(data: bytes) -> CachedInfo | None:
    """json.Unmarshal into cachedInfo; None when that fails (bad JSON, a wrong type, bad base64)."""
    import binascii  # lazy: heavy stdlib, only on this branch

    try:
        raw = gojson.loads(data)
        d = {} if raw is None else decode_struct(raw, _shape())
    except (gojson.JSONSyntaxError, DecodeError):
        return None
    config = None
    if "config" in d:
        text = d["config"].replace("\r", "").replace("\n", "")
        try:
            config = binascii.a2b_base64(text.encode("ascii"), strict_mode=True) if text else b""
        except (binascii.Error, ValueError, UnicodeEncodeError):
            return None
    if "cniArgs" in d:
        # [2]string: extra elements dropped, missing ones empty
        d["cniArgs"] = [tuple((list(p) + ["", ""])[:2]) for p in d["cniArgs"]]
    return CachedInfo(d, config)


def result_from_bytes(data: bytes | str) -> R.Result:
    """create.CreateFromBytes: the result in the version its own cniVersion names."""
    try:
        obj = gojson.loads(data)
    except gojson.JSONSyntaxError as exc:
        raise CNIRuntimeError(f"decoding version from network config: {exc}") from None
    try:
        version = decode_config_version({} if obj is None else obj)
    except CNIError as exc:
        raise CNIRuntimeError(exc.msg) from None
    try:
        return R.parse({} if obj is None else obj, version)
    except R.ResultError as exc:
        raise CNIRuntimeError(str(exc)) from None


def cached_result(path: str, cni_version: str) -> R.Result | None:
    """getCachedResult: the cached ADD result converted to `cni_version`; None if no file."""
    data = read_bytes(path)
    if data is None:
        return None
    info = decode(data)
    if info is None or info.kind != KIND:
        res = result_from_bytes(data)  # the legacy layout: the file is the bare result
    else:
        res = result_from_bytes(marshal(go_any(info.raw_result)) if info.raw_result is not None else b"null")
    try:
        return R.convert(res, cni_version)
    except R.ResultError as exc:
        raise CNIRuntimeError(f"failed to convert cached result to config version {q(cni_version)}: {exc}") \
            from None


def cached_config(path: str, network: str) -> CachedInfo | None:
    """getCachedConfig: the decoded entry, None if no file; an error for a bad or foreign file."""
    data = read_bytes(path)
    if data is None:
        return None
    info = decode(data)
    if info is None:
        raise CNIRuntimeError(f'failed to unmarshal cached network "{network}" config')
    if info.kind != KIND:
        raise CNIRuntimeError(f'read cached network "{network}" config has wrong kind: {info.kind}')
    return info


def attachments(cache_dir: str, container_id: str = "") -> list[CachedInfo]:
    """GetCachedAttachments: the valid cniCacheV1 entries (optionally of one container), by file name.

    Raises OSError when the results directory exists but cannot be read.
    """
    directory = os.path.join(cache_dir or DEFAULT_CACHE_DIR, "results")
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    out = []
    for fname in names:
        if container_id:
            part = f"-{container_id}-"
            pos = fname.find(part)
            if pos <= 0 or pos + len(part) >= len(fname):
                continue
        data = read_bytes(os.path.join(directory, fname))
        if data is None:
            continue
        info = decode(data)
        if info is None or info.kind != KIND:
            continue
        if container_id and info.container_id != container_id:
            continue
        if not info.ifname or not info.network_name:
            continue
        out.append(info)
    return out
