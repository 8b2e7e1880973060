"""What the daemon reads from one Allocate/Release call: the net conf, the client-id, the DHCP options.

Upstream's NetConf decode, generateClientID and prepareOptions, with their error texts, plus pycni's
opt-in keys (`ipam.ipv6`, `ipam.multipathRouters`). Pure: no I/O.
"""

from __future__ import annotations

from pycni.gofmt import q
from pycni.spec import gojson
from pycni.spec.godecode import (
    BOOL,
    INT,
    STRING,
    DecodeError,
    Struct,
    decode_struct,
    json_kind,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_OPTION = ("list", ("struct", Struct("ProvideOption", [("option", STRING), ("value", STRING), ("fromArg", STRING)],
                                     "main.ProvideOption")), "[]main.ProvideOption")
_REQUEST = ("list", ("struct", Struct("RequestOption", [("skipDefault", BOOL), ("option", STRING)],
                                      "main.RequestOption")), "[]main.RequestOption")
IPAM = Struct("IPAMConfig", [
    ("type", STRING),
    ("daemonSocketPath", STRING),
    ("provide", _OPTION),
    ("request", _REQUEST),
    ("priority", INT),
    # pycni extensions (the Go daemon ignores unknown keys)
    ("rpcTimeout", STRING),
    ("ipv6", BOOL),
    ("multipathRouters", BOOL),
], "main.IPAMConfig")
NET = Struct("NetConf", [("name", STRING), ("ipam", ("struct", IPAM))], "main.NetConf")

OPTION_NAMES = {
    "dhcp-client-identifier": 61,
    "subnet-mask": 1,
    "routers": 3,
    "host-name": 12,
    "user-class": 77,
    "vendor-class-identifier": 60,
}


NCLIENT4_DEFAULT_PRL = (1, 3, 15, 6)  # insomniacslk nclient4's option 55 when the config's list is empty


class ConfigError(ValueError):
    """An Allocate/Release argument the daemon refuses; the text goes back to the exec verbatim."""


def parse_netconf(stdin: bytes) -> dict[str, Any]:
    """json.Unmarshal(StdinData, &NetConf{}); a missing `ipam` is an empty one (upstream would crash)."""
    try:
        raw = gojson.loads(stdin)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise DecodeError(f"json: cannot unmarshal {json_kind(raw)} into Go value of type main.NetConf")
        conf = decode_struct(raw, NET)
    except (gojson.JSONSyntaxError, DecodeError) as exc:
        raise ConfigError(f"error parsing netconf: {exc}") from None
    conf.setdefault("ipam", {})
    return conf


def client_id(container_id: str, net_name: str, ifname: str) -> str:
    """containerID/netName/ifName, cut to 254 bytes (option 61 carries one length byte, plus the type byte)."""
    cid = f"{container_id}/{net_name}/{ifname}"
    raw = cid.encode("utf-8", "surrogateescape")
    if len(raw) > 254:
        cid = raw[:254].decode("utf-8", "surrogateescape")
    return cid


def _parse_uint8(s: str) -> int:
    """strconv.ParseUint(s, 10, 8) with Go's error text."""
    if not s or not s.isascii() or not s.isdigit():
        raise ValueError(f"strconv.ParseUint: parsing {q(s)}: invalid syntax")
    v = int(s)
    if v > 255:
        raise ValueError(f"strconv.ParseUint: parsing {q(s)}: value out of range")
    return v


def parse_option_name(option: str) -> int:
    code = OPTION_NAMES.get(option)
    if code is not None:
        return code
    try:
        return _parse_uint8(option)
    except ValueError as exc:
        raise ConfigError(f"Can not parse option {q(option)}: Can not parse option: {exc}") from None


def parse_cni_args(args: str) -> dict[str, str]:
    """Upstream's own loose CNI_ARGS split: pairs on `;`, key and value on the first `=`; no validation."""
    out: dict[str, str] = {}
    for pair in args.split(";"):
        k, eq, v = pair.partition("=")
        if eq:
            out[k] = v
    return out


def prepare_options(cni_args: str, ipam: dict[str, Any]) -> tuple[list[tuple[int, bool]], list[tuple[int, bytes]]]:
    """(request, provide): `request` as (code, skipDefault) in config order; `provide` as (code, value),
    a later entry for the same code winning, a CNI_ARGS value (fromArg) winning over `value`.

    An entry of `request` with an empty option is dropped, but its skipDefault still counts: it is
    carried by the first remaining entry. When none remains, the PRL upstream ends up with is nclient4's
    own default, [1, 3, 15, 6], which is what this list then spells out.
    """
    args = parse_cni_args(cni_args)
    provide: dict[int, bytes] = {}
    for opt in ipam.get("provide") or []:
        opt = opt or {}
        name = opt.get("option", "")
        code = parse_option_name(name)
        value = opt.get("value", "")
        if value:
            if len(value.encode("utf-8", "surrogateescape")) > 255:
                raise ConfigError(f"value too long for option {q(name)}: {q(value)}")
            provide[code] = value.encode("utf-8", "surrogateescape")
        from_arg = opt.get("fromArg", "")
        if from_arg in args:
            arg_value = args[from_arg]
            if len(arg_value.encode("utf-8", "surrogateescape")) > 255:
                # upstream prints the config's value here, not the argument's
                raise ConfigError(f"value too long for option {q(name)} from CNI_ARGS {q(from_arg)}: {q(value)}")
            provide[code] = arg_value.encode("utf-8", "surrogateescape")
    request: list[tuple[int, bool]] = []
    skip = False
    for opt in ipam.get("request") or []:
        opt = opt or {}
        skip = skip or bool(opt.get("skipDefault"))
        name = opt.get("option", "")
        if name == "":
            continue
        request.append((parse_option_name(name), bool(opt.get("skipDefault"))))
    if skip and not any(s for _, s in request):
        if request:
            request[0] = (request[0][0], True)
        else:
            request = [(code, True) for code in NCLIENT4_DEFAULT_PRL]
    return request, sorted(provide.items())


def lease_fields(args: dict[str, Any], host_prefix: str) -> tuple[str, dict[str, Any]]:
    """From the CmdArgs of an Allocate: (client-id, the conf-derived LeaseConfig fields)."""
    conf = parse_netconf(args.get("StdinData") or b"")
    ipam = conf["ipam"]
    request, provide = prepare_options(args.get("Args", ""), ipam)
    cid = client_id(args.get("ContainerID", ""), conf.get("name", ""), args.get("IfName", ""))
    fields = {
        "container_id": args.get("ContainerID", ""),
        "net_name": conf.get("name", ""),
        "ifname": args.get("IfName", ""),
        "netns": host_prefix + args.get("Netns", ""),
        "request": request,
        "provide": provide,
        "client_id": cid.encode("utf-8", "surrogateescape"),
        "multipath_routers": bool(ipam.get("multipathRouters")),
        "ipv6": bool(ipam.get("ipv6")),
        "priority": int(ipam.get("priority") or 0),
    }
    return cid, fields
