"""Property tests (hypothesis).

(a) Result conversion never loses what the lower version can hold: 1.1.0 results are converted
    down to every version and back up; printing and parsing is identity; conversions inside one
    version family are lossless.
(b) Whatever the environment and stdin, the plugin answers with nothing or one JSON document (an
    error object with an int code and a str msg, or a result), exits 0 or 1, and never shows a
    Python traceback: in-process through skel.run, and (fewer examples) through the real launcher.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pycni import skel  # noqa: E402
from pycni.plugins.ipam import static  # noqa: E402
from pycni.spec import gojson, ipnet  # noqa: E402
from pycni.spec import result as R  # noqa: E402

VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
FAMILY = {"0.1.0": "02x", "0.2.0": "02x", "0.3.0": "04x", "0.3.1": "04x", "0.4.0": "04x", "1.0.0": "1.x", "1.1.0": "1.x"}

# --- strategies: 1.1.0 results in pycni's canonical form ----------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
nonempty = text.filter(bool)
ip4 = st.integers(0, 2**32 - 1).map(lambda v: (4, v))
ip6 = st.integers(0, 2**128 - 1).filter(lambda v: v >> 32 != 0xFFFF).map(lambda v: (6, v))  # not v4-mapped
ip_any = st.one_of(ip4, ip6)
small = st.integers(1, 2**31 - 1)  # 1.x output goes through float64: stay well inside 2**53


@st.composite
def cidr(draw: st.DrawFn, family: st.SearchStrategy = ip_any) -> str:
    ip = draw(family)
    return ipnet.cidr_str(ip, draw(st.integers(0, ipnet.bits(ip[0]))))


@st.composite
def ip_config(draw: st.DrawFn) -> dict:
    ip = draw(ip_any)
    c: dict = {}
    if draw(st.booleans()):
        c["interface"] = draw(st.integers(0, 3))
    c["address"] = ipnet.cidr_str(ip, draw(st.integers(0, ipnet.bits(ip[0]))))
    if draw(st.booleans()):
        c["gateway"] = ipnet.ip_str(draw(ip4 if ip[0] == 4 else ip6))
    return c


@st.composite
def route(draw: st.DrawFn) -> dict:
    r: dict = {"dst": draw(cidr())}
    if draw(st.booleans()):
        r["gw"] = ipnet.ip_str(draw(ip_any))
    for k in ("mtu", "advmss", "priority"):
        if draw(st.booleans()):
            r[k] = draw(small)
    for k in ("table", "scope"):
        if draw(st.booleans()):
            r[k] = draw(st.integers(0, 2**31 - 1))
    return r


@st.composite
def interface(draw: st.DrawFn) -> dict:
    i: dict = {"name": draw(text)}
    for k in ("mac", "mtu", "sandbox", "socketPath", "pciID"):
        if draw(st.booleans()):
            i[k] = draw(small if k == "mtu" else nonempty)
    return i


@st.composite
def dns(draw: st.DrawFn) -> dict:
    d: dict = {}
    for k in ("nameservers", "domain", "search", "options"):
        if draw(st.booleans()):
            d[k] = draw(nonempty) if k == "domain" else draw(st.lists(text, min_size=1, max_size=3))
    return d


@st.composite
def result_110(draw: st.DrawFn) -> dict:
    r: dict = {"cniVersion": "1.1.0"}
    for key, strat in (("interfaces", interface()), ("ips", ip_config()), ("routes", route())):
        items = draw(st.lists(strat, max_size=4))
        if items:
            r[key] = items
    r["dns"] = draw(dns())
    return r


def is4(cidr_text: str) -> bool:
    return ":" not in cidr_text.split("/")[0]


def expected_via_02x(r: dict) -> dict:
    """What survives a trip through 0.1.0/0.2.0: the first address of each family (without its
    interface index), routes of a family that has an address (dst/gw only, v4 first), and dns."""
    first4 = next((c for c in r.get("ips", []) if is4(c["address"])), None)
    first6 = next((c for c in r.get("ips", []) if not is4(c["address"])), None)
    out: dict = {"cniVersion": "1.1.0"}
    ips = [{k: c[k] for k in ("address", "gateway") if k in c} for c in (first4, first6) if c is not None]
    if ips:
        out["ips"] = ips
    routes = []
    for want4, present in ((True, first4), (False, first6)):
        if present is not None:
            routes += [{k: rt[k] for k in ("dst", "gw") if k in rt} for rt in r.get("routes", []) if is4(rt["dst"]) == want4]
    if routes:
        out["routes"] = routes
    out["dns"] = r["dns"]
    return out


def expected_via_04x(r: dict) -> dict:
    out = copy.deepcopy(r)
    if "interfaces" in out:
        out["interfaces"] = [{k: i[k] for k in ("name", "mac", "sandbox") if k in i} for i in out["interfaces"]]
    return out


@settings(max_examples=150, deadline=None)
@given(result_110())
def test_generated_results_are_canonical(r: dict) -> None:
    assert R.parse(copy.deepcopy(r), "1.1.0") == r


@settings(max_examples=150, deadline=None)
@given(result_110(), st.sampled_from(VERSIONS))
def test_down_and_back_up_keeps_what_the_lower_version_can_hold(r: dict, version: str) -> None:
    fam = FAMILY[version]
    if fam == "02x" and not r.get("ips"):
        with pytest.raises(R.ResultError, match="no valid IP addresses"):
            R.convert(r, version)
        return
    down = R.convert(r, version)
    assert down["cniVersion"] == version
    up = R.convert(down, "1.1.0")
    if fam == "1.x":
        assert up == r
    elif fam == "04x":
        assert up == expected_via_04x(r)
    else:
        assert up == expected_via_02x(r)


@settings(max_examples=150, deadline=None)
@given(result_110(), st.sampled_from(VERSIONS))
def test_printing_then_parsing_is_identity_in_every_version(r: dict, version: str) -> None:
    if FAMILY[version] == "02x" and not r.get("ips"):
        return
    c = R.convert(r, version)
    printed = gojson.dumps(R.to_json_obj(c))
    assert json.loads(printed) == R.to_json_obj(c)  # Go's layout is still plain JSON
    assert R.parse(gojson.loads(printed), version) == c


@settings(max_examples=100, deadline=None)
@given(result_110(), st.sampled_from([("1.0.0", "1.1.0"), ("0.3.0", "0.4.0"), ("0.4.0", "0.3.1"), ("0.3.1", "0.3.0"),
                                      ("0.1.0", "0.2.0"), ("0.2.0", "0.1.0")]))
def test_conversion_within_a_family_is_lossless(r: dict, pair: tuple[str, str]) -> None:
    a, b = pair
    if FAMILY[a] == "02x" and not r.get("ips"):
        return
    start = R.convert(r, a)
    there = R.convert(start, b)
    assert R.convert(there, a) == start
    assert {k: v for k, v in there.items() if k != "cniVersion"} == {k: v for k, v in start.items() if k != "cniVersion"}


# --- (b) nothing ever escapes as a traceback --------------------------------------------------------

KEYS = ["cniVersion", "name", "type", "ipam", "addresses", "address", "gateway", "routes", "dst", "gw", "dns",
        "nameservers", "domain", "search", "options", "runtimeConfig", "RuntimeConfig", "ips", "args", "cni",
        "prevResult", "mtu", "table", "scope", "priority", "interfaces", "interface", "version", "Address", "IP",
        "Mask", "capabilities", "IPAM", "CNIVersion", "cni.dev/valid-attachments"]
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False), text,
    st.sampled_from(VERSIONS + ("", "1.0", "adsfsadf", "mynet", "te%st", "10.10.0.1/24", "10.10.0.1", "::1/64",
                                "3ffe:ffff:0:01ff::1/64", "0.0.0.0/0", "bogus", "010.0.0.1", "////AA==", "static")),
)
JSONISH = st.recursive(
    LEAVES,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.one_of(st.sampled_from(KEYS), text), children, max_size=6)),
    max_leaves=25,
)


@st.composite
def config_like(draw: st.DrawFn) -> bytes:
    """Mostly plausible configs with random parts, sometimes raw bytes or broken JSON."""
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return draw(st.binary(max_size=64))
    conf: dict = {"cniVersion": draw(LEAVES) if draw(st.integers(0, 9)) == 0 else draw(st.sampled_from(VERSIONS)),
                  "name": draw(LEAVES) if draw(st.integers(0, 9)) == 0 else "mynet"}
    conf["ipam"] = draw(st.one_of(
        st.fixed_dictionaries({"type": st.just("static")}, optional={
            "addresses": st.lists(st.one_of(st.fixed_dictionaries({"address": LEAVES}, optional={"gateway": LEAVES}),
                                            JSONISH), max_size=3),
            "routes": st.lists(st.one_of(st.fixed_dictionaries({"dst": LEAVES}, optional={
                "gw": LEAVES, "mtu": LEAVES, "table": LEAVES}), JSONISH), max_size=3),
            "dns": JSONISH}),
        JSONISH))
    for k in draw(st.lists(st.sampled_from(["runtimeConfig", "args", "prevResult", "RuntimeConfig", "IPAM"]),
                           max_size=2)):
        conf[k] = draw(JSONISH)
    if draw(st.integers(0, 3)) == 0:  # a plausible prevResult for CHECK
        conf["prevResult"] = {"cniVersion": draw(st.sampled_from(VERSIONS)), "ips": draw(st.lists(
            st.fixed_dictionaries({"address": LEAVES}, optional={"gateway": LEAVES, "interface": LEAVES,
                                                                 "version": LEAVES}), max_size=3))}
    data = json.dumps(conf).encode()
    if kind == 1:  # cut it somewhere
        data = data[: draw(st.integers(0, len(data)))]
    return data


ENV_VALUES = st.one_of(st.sampled_from(["c1", "eth0", "/some/where", "", "-abc", ".", "1234567890123456",
                                        "a b", "IP=10.10.0.1/24", "IgnoreUnknown=1;X=1", "K=a=b", "a\udcff", "1"]),
                       st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20))
COMMANDS = st.one_of(st.sampled_from(["ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS", "add", "", "NOPE"]),
                     ENV_VALUES)


VALID_ENV = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/some/where", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"}


@st.composite
def environment(draw: st.DrawFn) -> dict[str, str]:
    """Mostly a valid environment (so the plugin itself runs), each variable sometimes dropped or odd."""
    common = ["ADD"] * 6 + ["DEL", "CHECK", "CHECK", "GC", "STATUS", "VERSION"]
    env = {"CNI_COMMAND": draw(COMMANDS) if draw(st.integers(0, 9)) == 0 else draw(st.sampled_from(common))}
    for var, value in VALID_ENV.items():
        roll = draw(st.integers(0, 29))
        if roll == 0:
            continue
        env[var] = draw(ENV_VALUES) if roll == 1 else value
    if draw(st.booleans()):
        env["CNI_ARGS"] = draw(st.one_of(ENV_VALUES, st.sampled_from([
            "IP=10.10.0.1/24", "IP=10.10.0.1/24,11.11.0.1/24;GATEWAY=10.10.0.254", "GATEWAY= x", "IP=,",
            "IgnoreUnknown=1;FOO=bar", "IP=::ffff:1.2.3.4/120;GATEWAY=1.2.3.1"])))
    if draw(st.integers(0, 9)) == 0:
        env["CNI_NETNS_OVERRIDE"] = draw(ENV_VALUES)
    return env


def check_answer(rc: int, stdout: str) -> None:
    assert rc in (0, 1)
    if stdout == "":
        return
    obj = json.loads(stdout)
    assert isinstance(obj, dict)
    if "code" in obj:
        assert rc == 1
        assert isinstance(obj["code"], int) and isinstance(obj["msg"], str)
        assert set(obj) <= {"code", "msg", "details"}
    else:
        assert rc == 0 and isinstance(obj.get("cniVersion"), str)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(environment(), config_like())
def test_skel_run_never_raises_and_answers_with_json_or_nothing(env: dict[str, str], stdin: bytes) -> None:
    outcome = skel.run(static.PLUGIN, env, stdin)
    check_answer(outcome.exit_code, outcome.stdout())


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> str:
    from pycni.cli.install import install

    d = tmp_path_factory.mktemp("bin")
    install(str(d))
    return os.path.join(d, "static")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(environment(), config_like())
def test_the_launcher_never_prints_a_traceback(launcher: str, env: dict[str, str], stdin: bytes) -> None:
    p = subprocess.run([launcher], env={"PATH": "/usr/bin:/bin", **env}, input=stdin, capture_output=True, timeout=30)
    assert b"Traceback" not in p.stderr and b"Traceback" not in p.stdout
    check_answer(p.returncode, p.stdout.decode("utf-8"))
