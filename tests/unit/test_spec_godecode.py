"""pycni.spec.godecode: Go encoding/json decoding rules for described structs (ipam-inventory 1.3)."""

from __future__ import annotations

import pytest

from pycni.spec import gojson
from pycni.spec.godecode import (BOOL, INT, IP, IPNET, OBJECT, RAW, STRING, UINT, DecodeError, Struct, TypeDecodeError,
                                 decode_struct, decode_value)

INNER = Struct("inner", [("n", INT)], "pkg.inner", fresh=True)  # a type with its own UnmarshalJSON
CONF = Struct(
    "Conf",
    [
        ("name", STRING),
        ("count", INT),
        ("size", UINT),
        ("on", BOOL),
        ("gw", IP),
        ("net", IPNET),
        ("any", RAW),
        ("obj", OBJECT),
        ("tags", ("list", STRING, "[]string")),
        ("sub", ("struct", Struct("Sub", [("x", STRING)], "pkg.Sub"))),
        ("val", ("struct", Struct("Val", [("x", STRING)], "pkg.Val"), "value")),
        ("inners", ("list", ("struct", INNER), "[]*pkg.Inner")),
        ("Name2", STRING, "name2"),
        ("mask", ("bytes", "net.IPMask")),
    ],
    "pkg.Conf",
)


def dec(text: str) -> dict:
    return decode_struct(gojson.loads(text), CONF)


def test_keys_match_case_insensitively_and_unknown_keys_are_ignored() -> None:
    assert dec('{"NAME": "a", "Count": 2, "ON": true, "zzz": 1}') == {"name": "a", "count": 2, "on": True}


def test_the_last_key_that_maps_to_a_field_wins() -> None:
    assert dec('{"name": "a", "NAME": "b"}') == {"name": "b"}
    assert dec('{"NAME": "b", "name": "a"}') == {"name": "a"}


def test_an_exact_field_name_beats_a_case_folded_one() -> None:
    s = Struct("S", [("address", STRING, "a"), ("Address", STRING, "b")])
    assert decode_struct({"Address": "x"}, s) == {"b": "x"}
    assert decode_struct({"ADDRESS": "x"}, s) == {"a": "x"}  # the first field in declaration order


def test_null_leaves_scalars_and_value_structs_alone_and_resets_pointers() -> None:
    assert dec('{"name": "a", "name": null}') == {"name": "a"}
    assert dec('{"val": {"x": "1"}, "val": null}') == {"val": {"x": "1"}}
    assert dec('{"sub": {"x": "1"}, "sub": null}') == {}
    assert dec('{"gw": "1.2.3.4", "gw": null}') == {}
    assert dec('{"tags": ["a"], "tags": null}') == {}


def test_null_list_elements_become_zero_values() -> None:
    assert dec('{"tags": [null, "a"]}') == {"tags": ["", "a"]}
    assert dec('{"inners": [null]}') == {"inners": [None]}  # []*T: a nil pointer


def test_types_ipnet_unmarshaljson_sees_null_as_an_empty_cidr() -> None:
    with pytest.raises(DecodeError, match="^invalid CIDR address: $"):
        dec('{"net": null}')


def test_ip_and_cidr_values_are_parsed_with_go_rules() -> None:
    d = dec('{"gw": "::ffff:10.0.0.1", "net": "10.0.0.7/24"}')
    assert d == {"gw": (4, 0x0A000001), "net": ((4, 0x0A000007), 24)}
    assert dec('{"gw": ""}') == {}  # an empty net.IP is unset
    with pytest.raises(DecodeError, match="^invalid IP address: 010.0.0.1$"):
        dec('{"gw": "010.0.0.1"}')


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"name": 5}', "json: cannot unmarshal number into Go struct field Conf.name of type string"),
        ('{"count": "5"}', "json: cannot unmarshal string into Go struct field Conf.count of type int"),
        ('{"count": 1.5}', "json: cannot unmarshal number 1.5 into Go struct field Conf.count of type int"),
        ('{"count": 1e2}', "json: cannot unmarshal number 1e2 into Go struct field Conf.count of type int"),
        ('{"count": 9223372036854775808}',
         "json: cannot unmarshal number 9223372036854775808 into Go struct field Conf.count of type int"),
        ('{"size": -1}', "json: cannot unmarshal number -1 into Go struct field Conf.size of type uint"),
        ('{"on": 1}', "json: cannot unmarshal number into Go struct field Conf.on of type bool"),
        ('{"gw": 5}', "json: cannot unmarshal number into Go struct field Conf.gw of type net.IP"),
        ('{"gw": [1]}', "json: cannot unmarshal array into Go struct field Conf.gw of type net.IP"),
        ('{"obj": []}', "json: cannot unmarshal array into Go struct field Conf.obj of type map[string]interface {}"),
        ('{"tags": "a"}', "json: cannot unmarshal string into Go struct field Conf.tags of type []string"),
        ('{"tags": [1]}', "json: cannot unmarshal number into Go struct field Conf.tags of type string"),
        ('{"sub": "x"}', "json: cannot unmarshal string into Go struct field Conf.sub of type pkg.Sub"),
        ('{"sub": {"x": 1}}', "json: cannot unmarshal number into Go struct field Sub.sub.x of type string"),
        # inside a type with its own UnmarshalJSON: the outer struct, the outer path, then the inner path
        ('{"inners": ["x"]}', "json: cannot unmarshal string into Go struct field Conf.inners of type pkg.inner"),
        ('{"inners": [{"n": "x"}]}', "json: cannot unmarshal string into Go struct field Conf.inners.n of type int"),
        ('{"net": 5}', "json: cannot unmarshal number into Go struct field Conf.net of type string"),
        ('{"mask": 5}', "json: cannot unmarshal number into Go struct field Conf.mask of type net.IPMask"),
        ('{"mask": "!!"}', "illegal base64 data at input byte 0"),
    ],
)
def test_type_errors_have_go_text(text: str, message: str) -> None:
    with pytest.raises(DecodeError) as exc:
        dec(text)
    assert str(exc.value) == message


def test_a_type_error_is_kept_while_decoding_goes_on_and_the_first_one_is_reported() -> None:
    with pytest.raises(TypeDecodeError, match="Conf.name of type string"):
        dec('{"name": 5, "count": "x"}')


def test_an_unmarshaler_error_stops_decoding_and_beats_an_earlier_type_error() -> None:
    with pytest.raises(DecodeError, match="^invalid CIDR address: bogus$"):
        dec('{"name": 5, "net": "bogus", "count": "x"}')
    with pytest.raises(DecodeError, match="^invalid IP address: bogus$"):
        dec('{"name": 5, "gw": "bogus"}')
    # a type error inside a custom unmarshaler also stops the outer decoding
    with pytest.raises(TypeDecodeError, match="Conf.inners.n of type int"):
        dec('{"name": 5, "inners": [{"n": "x"}]}')


def test_top_level_type_errors_have_no_field() -> None:
    with pytest.raises(DecodeError, match="^json: cannot unmarshal array into Go value of type pkg.Conf$"):
        dec("[1]")
    with pytest.raises(DecodeError, match="^json: cannot unmarshal string into Go value of type int$"):
        decode_value("x", INT, None)


def test_bytes_decode_base64_or_arrays() -> None:
    assert dec('{"mask": "////AA=="}') == {"mask": b"\xff\xff\xff\x00"}
    assert dec('{"mask": [255, 0]}') == {"mask": b"\xff\x00"}
    with pytest.raises(DecodeError, match="number 256 into Go struct field Conf.mask of type uint8"):
        dec('{"mask": [256]}')


def test_raw_and_object_keep_what_was_parsed() -> None:
    assert dec('{"any": [1, {"a": null}], "obj": {"k": 1.5}}') == {"any": [1, {"a": None}], "obj": {"k": 1.5}}


def test_decoded_struct_holds_only_the_fields_that_were_set() -> None:
    assert dec("{}") == {}
    assert dec('{"Name2": "x"}') == {"name2": "x"}
