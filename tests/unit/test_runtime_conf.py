"""Loading network configurations as libcni does (R-LOAD-01..04, R-CONF-04, E29, E30)."""

from __future__ import annotations

import json
import os

import pytest

from pycni.runtime import conf as C
from pycni.runtime.errors import ConfigError, NoConfigsFoundError, NotFoundError
from pycni.runtime.gomarshal import Ordered, RawJSON, go_any, go_float, marshal


def put(d, name, obj):
    path = os.path.join(str(d), name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def clist(name, *types, **extra):
    return {"cniVersion": "1.0.0", "name": name, "plugins": [{"type": t} for t in types], **extra}


# --- R-LOAD-01: which file wins ---------------------------------------------------------------


def test_conflist_wins_over_conf_with_the_same_name(tmp_path):
    put(tmp_path, "00-a.conf", {"cniVersion": "1.0.0", "name": "net", "type": "fromconf"})
    put(tmp_path, "99-b.conflist", clist("net", "fromlist"))
    assert [p.type for p in C.load_network(str(tmp_path), "net").plugins] == ["fromlist"]


def test_conflists_are_tried_in_sorted_order_and_the_first_match_wins(tmp_path):
    put(tmp_path, "20.conflist", clist("net", "second"))
    put(tmp_path, "10.conflist", clist("net", "first"))
    put(tmp_path, "05.conflist", clist("other", "x"))
    assert C.load_network(str(tmp_path), "net").plugins[0].type == "first"


def test_a_broken_file_before_the_match_aborts_the_load(tmp_path):
    put(tmp_path, "10.conflist", "{not json")
    put(tmp_path, "20.conflist", clist("net", "p"))
    with pytest.raises(ConfigError, match="error parsing configuration list: invalid character 'n'"):
        C.load_network(str(tmp_path), "net")


def test_a_broken_file_after_the_match_is_not_read(tmp_path):
    put(tmp_path, "10.conflist", clist("net", "p"))
    put(tmp_path, "20.conflist", "{not json")
    assert C.load_network(str(tmp_path), "net").name == "net"


def test_a_conflist_without_plugins_anywhere_aborts_the_load_even_if_not_the_one_asked(tmp_path):
    put(tmp_path, "10.conflist", {"cniVersion": "1.0.0", "name": "empty"})
    put(tmp_path, "20.conflist", clist("net", "p"))
    with pytest.raises(ConfigError, match="^no plugin configs found$"):
        C.load_network(str(tmp_path), "net")


def test_subdirectories_and_other_extensions_are_ignored(tmp_path):
    os.makedirs(tmp_path / "dir.conflist")
    put(tmp_path, "x.conflist.bak", clist("net", "bak"))
    put(tmp_path, "net.yaml", "name: net")
    with pytest.raises(NoConfigsFoundError):
        C.load_network(str(tmp_path), "net")


def test_a_file_named_only_by_the_extension_counts(tmp_path):
    put(tmp_path, ".conflist", clist("net", "hidden"))
    assert C.load_network(str(tmp_path), "net").plugins[0].type == "hidden"


def test_missing_directory_means_no_configurations(tmp_path):
    d = str(tmp_path / "nope")
    with pytest.raises(NoConfigsFoundError) as ei:
        C.load_network(d, "net")
    assert str(ei.value) == f"no net configurations found in {d}"


def test_a_file_given_as_the_directory(tmp_path):
    f = put(tmp_path, "file", "x")
    with pytest.raises(ConfigError, match=f"^readdirent {f}: not a directory$"):
        C.load_network(f, "net")


def test_files_but_no_matching_name(tmp_path):
    put(tmp_path, "10.conflist", clist("other", "p"))
    with pytest.raises(NotFoundError) as ei:
        C.load_network(str(tmp_path), "net")
    assert str(ei.value) == f'no net configuration with name "net" in {tmp_path}'


def test_only_conf_files_and_no_match_is_not_found(tmp_path):
    put(tmp_path, "a.json", {"name": "other", "type": "x"})
    with pytest.raises(NotFoundError):
        C.load_network(str(tmp_path), "net")


def test_single_conf_is_wrapped_as_a_one_plugin_list(tmp_path):
    put(tmp_path, "10-x.conf", {"cniVersion": "0.4.0", "name": "net", "type": "bridge", "zz": 1.0, "aa": [1]})
    net = C.load_network(str(tmp_path), "net")
    assert (net.name, net.cni_version, [p.type for p in net.plugins]) == ("net", "0.4.0", ["bridge"])
    # the list's bytes are libcni's marshalled wrapper: sorted keys, numbers through float64
    assert net.data == (b'{"cniVersion":"0.4.0","name":"net","plugins":[{"aa":[1],"cniVersion":"0.4.0",'
                        b'"name":"net","type":"bridge","zz":1}]}')


def test_json_extension_is_read_and_conf_name_matched_case_insensitively_as_go(tmp_path):
    put(tmp_path, "x.json", {"Name": "net", "CNIVersion": "1.0.0", "Type": "p"})
    net = C.load_network(str(tmp_path), "net")
    assert net.cni_version == "1.0.0" and net.plugins[0].type == "p"


def test_a_broken_conf_file_aborts_with_its_error(tmp_path):
    put(tmp_path, "a.conf", {"name": "net"})
    with pytest.raises(ConfigError, match="^error parsing configuration: missing 'type'$"):
        C.load_network(str(tmp_path), "net")


def test_unreadable_file_error_text(tmp_path):
    os.symlink(str(tmp_path / "gone"), str(tmp_path / "a.conflist"))
    with pytest.raises(ConfigError, match=r"^error reading .*/a\.conflist: open .*: no such file or directory$"):
        C.load_network(str(tmp_path), "net")


# --- R-LOAD-02: plugin objects from <dir>/<name>/*.conf ----------------------------------------


def test_plugins_from_the_network_subdirectory_are_appended_in_name_order(tmp_path):
    put(tmp_path, "10.conflist", clist("net", "inline"))
    put(tmp_path, "net/b.conf", {"type": "second"})
    put(tmp_path, "net/a.conf", {"type": "first"})
    put(tmp_path, "net/c.json", {"type": "ignored"})
    assert [p.type for p in C.load_network(str(tmp_path), "net").plugins] == ["inline", "first", "second"]


def test_load_only_inlined_plugins_skips_the_subdirectory(tmp_path):
    put(tmp_path, "10.conflist", clist("net", "inline", loadOnlyInlinedPlugins=True))
    put(tmp_path, "net/a.conf", {"type": "extra"})
    assert [p.type for p in C.load_network(str(tmp_path), "net").plugins] == ["inline"]


def test_plugins_key_may_be_absent_when_the_subdirectory_has_them(tmp_path):
    put(tmp_path, "10.conflist", {"cniVersion": "1.0.0", "name": "net"})
    put(tmp_path, "net/a.conf", {"type": "only"})
    assert [p.type for p in C.load_network(str(tmp_path), "net").plugins] == ["only"]


def test_a_bad_plugin_file_in_the_subdirectory_fails(tmp_path):
    put(tmp_path, "10.conflist", clist("net", "inline"))
    put(tmp_path, "net/a.conf", {"name": "x"})
    with pytest.raises(ConfigError, match="missing 'type'"):
        C.load_network(str(tmp_path), "net")


def test_subdirectory_plugins_are_not_added_to_a_wrapped_single_conf(tmp_path):
    put(tmp_path, "a.conf", {"cniVersion": "1.0.0", "name": "net", "type": "single"})
    put(tmp_path, "net/b.conf", {"type": "extra"})
    assert [p.type for p in C.load_network(str(tmp_path), "net").plugins] == ["single"]


# --- R-LOAD-03: the list's fields ----------------------------------------------------------------

def load(obj):
    return C.network_conf_from_bytes(obj if isinstance(obj, bytes) else json.dumps(obj).encode())


@pytest.mark.parametrize("doc, version", [
    ({"cniVersions": ["0.4.0", "1.0.0", "99.0.0"]}, "1.0.0"),                       # E29
    ({"cniVersion": "1.2.3"}, "1.2.3"),                                             # verbatim
    ({"cniVersions": []}, ""),
    ({"cniVersion": "0.3.1", "cniVersions": ["1.0.0"]}, "1.0.0"),
    ({"cniVersion": "1.1.0", "cniVersions": ["0.4.0"]}, "1.1.0"),
    ({"cniVersion": "1.5.0", "cniVersions": ["2.0.0"]}, "1.5.0"),                   # nothing kept: unchanged
    ({"cniVersion": "1.5.0", "cniVersions": ["0.4.0"]}, "0.4.0"),                   # too new: dropped
    ({}, ""),
])
def test_version_selection(doc, version):
    assert load({"name": "n", "plugins": [{"type": "p"}], **doc}).cni_version == version


@pytest.mark.parametrize("doc, message", [
    ({"cniVersions": ["1.0.f"]}, 'invalid cniVersions entry 1.0.f at index 0: failed to convert micro version '
                                 'part "f": strconv.Atoi: parsing "f": invalid syntax'),
    ({"cniVersions": "1.0.0"}, "invalid type for cniVersions: []interface {}"),
    ({"cniVersions": [1]}, "invalid type for cniVersions index 0: float64"),
    ({"cniVersion": 1}, "invalid cniVersion type float64"),
    ({"cniVersion": "x", "cniVersions": []}, 'invalid cniVersion x: failed to convert major version part "x"'),
])
def test_version_errors(doc, message):
    with pytest.raises(ConfigError) as ei:
        load({"name": "n", "plugins": [{"type": "p"}], **doc})
    assert str(ei.value).startswith("error parsing configuration list: " + message)


@pytest.mark.parametrize("value, expected", [(True, True), (False, False), ("TRUE", True), ("False", False)])
def test_flags_accept_bools_and_the_strings_true_false_in_any_case(value, expected):
    net = load({"name": "n", "plugins": [{"type": "p"}], "disableCheck": value, "disableGC": value,
                "loadOnlyInlinedPlugins": value})
    assert (net.disable_check, net.disable_gc, net.load_only_inlined_plugins) == (expected,) * 3


@pytest.mark.parametrize("key", ["disableCheck", "disableGC", "loadOnlyInlinedPlugins"])
def test_flag_errors(key):
    with pytest.raises(ConfigError, match=f'^error parsing configuration list: invalid value "yes" for {key}$'):
        load({"name": "n", "plugins": [{"type": "p"}], key: "YES"})
    with pytest.raises(ConfigError, match=f"^error parsing configuration list: invalid type float64 for {key}$"):
        load({"name": "n", "plugins": [{"type": "p"}], key: 1})


@pytest.mark.parametrize("doc, message", [
    ({"name": "n", "plugins": []}, "error parsing configuration list: no plugins in list"),       # E30
    ({"name": "n", "loadOnlyInlinedPlugins": True},
     "error parsing configuration list: `loadOnlyInlinedPlugins` is true, and no 'plugins' key"),
    ({"name": "n", "plugins": {}}, "error parsing configuration list: invalid 'plugins' type map[string]interface {}"),
    ({"name": "n", "plugins": [{"type": "a"}, {"name": "b"}]},
     "failed to parse plugin config 1: error parsing configuration: missing 'type'"),
    ({"name": "n", "plugins": [{"type": ""}]},
     "failed to parse plugin config 0: error parsing configuration: missing 'type'"),
    ({"name": "n", "plugins": ["x"]}, "failed to parse plugin config 0: error parsing configuration: json: "
                                      "cannot unmarshal string into Go value of type types.PluginConf"),
    ({"name": "n", "plugins": [{"type": "a", "capabilities": {"mac": "yes"}}]},
     "failed to parse plugin config 0: error parsing configuration: json: cannot unmarshal string into Go struct "
     "field PluginConf.capabilities of type bool"),
    ({"plugins": [{"type": "a"}]}, "error parsing configuration list: no name"),
    ({"name": None}, "error parsing configuration list: invalid name type <nil>"),
    ([], "error parsing configuration list: json: cannot unmarshal array into Go value of type "
         "map[string]interface {}"),
])
def test_list_errors(doc, message):
    with pytest.raises(ConfigError) as ei:
        load(doc)
    assert str(ei.value) == message


def test_json_syntax_errors_read_like_go():
    with pytest.raises(ConfigError, match="^error parsing configuration list: unexpected end of JSON input$"):
        load(b'{"name": "n"')
    with pytest.raises(ConfigError, match="^error parsing configuration list: unexpected end of JSON input$"):
        load(b"")


def test_plugins_missing_is_fine_from_bytes():
    net = load({"name": "n"})
    assert net.plugins == []


def test_list_keeps_its_own_bytes_verbatim():
    raw = b'{ "name": "n",  "plugins": [ {"type": "p"} ] }\n'
    assert load(raw).data == raw


# --- R-LOAD-04 / R-CONF-04: what a plugin object becomes --------------------------------------------


def test_inline_plugin_bytes_are_go_marshalled_and_keep_unknown_keys():
    net = load(b'{"name":"n","plugins":[{"type":"p","zeta":{"b":1,"a":[true,null]},"big":9007199254740993,'
               b'"one":1.0,"html":"<a&b>","capabilities":{"mac":true}}]}')
    assert net.plugins[0].data == (b'{"big":9007199254740992,"capabilities":{"mac":true},'
                                   b'"html":"\\u003ca\\u0026b\\u003e","one":1,"type":"p","zeta":{"a":[true,null],"b":1}}')
    assert net.plugins[0].capabilities == {"mac": True}


def test_inject_overrides_and_sorts():
    p = C.plugin_conf_from_bytes(b'{"type":"p","name":"own","cniVersion":"0.1.0","x":9007199254740993}')
    out = C.inject_conf(p, {"name": "list", "cniVersion": "1.0.0"})
    assert out.data == b'{"cniVersion":"1.0.0","name":"list","type":"p","x":9007199254740992}'


def test_inject_rejects_nil_values_and_empty_keys():
    p = C.plugin_conf_from_bytes(b'{"type":"p"}')
    with pytest.raises(ConfigError, match="^key 'k' value must not be nil$"):
        C.inject_conf(p, {"k": None})
    with pytest.raises(ConfigError, match="^keys cannot be empty$"):
        C.inject_conf(p, {"": 1})


def test_load_network_file_reads_either_format(tmp_path):
    a = put(tmp_path, "a.conflist", clist("la", "p"))
    b = put(tmp_path, "b.conf", {"name": "lb", "type": "q", "cniVersion": "0.3.1"})
    assert C.load_network_file(a).name == "la"
    assert (C.load_network_file(b).name, C.load_network_file(b).cni_version) == ("lb", "0.3.1")


# --- gomarshal -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, text", [
    (0.0, "0"), (1.0, "1"), (-2.0, "-2"), (0.1, "0.1"), (1.5e-05, "0.000015"), (1e-06, "0.000001"),
    (1e-07, "1e-7"), (1.5e-10, "1.5e-10"), (1e20, "100000000000000000000"), (1e21, "1e+21"),
    (1.5e300, "1.5e+300"), (123456.789, "123456.789"), (-0.0, "-0"),
    (123456789012345678.0, "123456789012345680"),  # shortest digits, as strconv, not the exact integer
])
def test_floats_print_as_go(value, text):
    assert go_float(value) == text


def test_marshal_orders_maps_but_not_structs_and_passes_raw_json():
    v = {"b": Ordered(z=1, a=2), "a": RawJSON('{"k": 1}'), "c": [go_any(3)]}
    assert marshal(v) == '{"a":{"k": 1},"b":{"z":1,"a":2},"c":[3]}'
