"""pycni.spec.gojson: JSON in and out the way Go's encoding/json does it."""

from __future__ import annotations

import json

import pytest

from pycni.spec import gojson


def test_dumps_is_marshal_indent_with_four_spaces_and_no_trailing_newline() -> None:
    text = gojson.dumps({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.1/24"}], "dns": {}})
    assert text == ('{\n    "cniVersion": "1.0.0",\n    "ips": [\n        {\n            "address": "10.0.0.1/24"\n'
                    '        }\n    ],\n    "dns": {}\n}')


def test_dumps_compact_is_marshal() -> None:
    assert gojson.dumps({"a": [1, True, None, "x"], "b": {}}, None) == '{"a":[1,true,null,"x"],"b":{}}'


def test_dumps_keeps_insertion_order_and_writes_empty_containers_inline() -> None:
    assert gojson.dumps({"z": [], "a": {}}) == '{\n    "z": [],\n    "a": {}\n}'


@pytest.mark.parametrize(
    "s, encoded",
    [
        ("<a&b>", '"\\u003ca\\u0026b\\u003e"'),  # HTML-safe escapes
        ("IP <nil> not v4 nor v6", '"IP \\u003cnil\\u003e not v4 nor v6"'),
        ("\u2028\u2029", '"\\u2028\\u2029"'),
        ("\b\f", '"\\u0008\\u000c"'),
        ("\n\r\t", '"\\n\\r\\t"'),
        ("\x01\x1f", '"\\u0001\\u001f"'),
        ('"\\', '"\\"\\\\"'),
        ("\\b", '"\\\\b"'),  # a backslash followed by b is not a backspace
        ("é€😀", '"é€😀"'),  # non-ASCII is written as UTF-8
        ("\x7f", '"\x7f"'),
        ("a\udcffb", '"a\\ufffdb"'),  # a non-UTF-8 byte (surrogateescape) is written as Go does: \ufffd
        ("a\ud800b", '"a\ufffdb"'),  # a lone surrogate became U+FFFD when Go decoded it
    ],
)
def test_string_escapes_match_go(s: str, encoded: str) -> None:
    assert gojson.dumps(s, None) == encoded


@pytest.mark.parametrize("f, text", [(1.0, "1"), (1.5, "1.5"), (100.0, "100"), (1e20, "100000000000000000000"),
                                     (1e21, "1e+21"), (1.5e-7, "1.5e-7"), (1e-6, "0.000001"), (-0.0, "-0"),
                                     (123456789012345678.0, "123456789012345680"), (0.1, "0.1")])
def test_floats_are_written_like_go_float64(f: float, text: str) -> None:
    assert gojson.dumps(f, None) == text
    assert gojson.go_float_text(f) == text


def test_integers_are_written_exactly() -> None:
    assert gojson.dumps(9007199254740993, None) == "9007199254740993"


def test_loads_parses_json_and_allows_surrounding_whitespace() -> None:
    assert gojson.loads(b' \n{"a": [1, 2.5, "x", null, true]}\t') == {"a": [1, 2.5, "x", None, True]}


def test_loads_keeps_the_literal_of_a_float_for_error_messages() -> None:
    v = gojson.loads(b'{"a": 1e2, "b": 1.50}')
    assert v["a"] == 100.0 and v["a"].text == "1e2"
    assert v["b"].text == "1.50"


def test_loads_takes_the_last_duplicate_key() -> None:
    assert gojson.loads(b'{"a": 1, "a": 2}') == {"a": 2}


def test_loads_replaces_invalid_utf8_as_go_does() -> None:
    assert gojson.loads(b'"a\xffb"') == "a\ufffdb"


@pytest.mark.parametrize(
    "text, message",
    [
        (b"", "unexpected end of JSON input"),
        (b"   ", "unexpected end of JSON input"),
        (b"not json", "invalid character 'o' in literal null (expecting 'u')"),
        # at the end of input Go steps a space through the scanner: inside a literal, a number or an
        # escape that space is the error (all of these were checked against Go 1.19)
        (b"nul", "invalid character ' ' in literal null (expecting 'l')"),
        (b"-", "invalid character ' ' in numeric literal"),
        (b"1.", "invalid character ' ' after decimal point in numeric literal"),
        (b"1e", "invalid character ' ' in exponent of numeric literal"),
        (b'{"a":"\\', "invalid character ' ' in string escape code"),
        (b'{"a":"\\u12', "invalid character ' ' in \\u hexadecimal character escape"),
        (b'{"a":"\\\\', "unexpected end of JSON input"),
        (b'{"a":1.x}', "invalid character 'x' after decimal point in numeric literal"),
        (b'{"a":1e+}', "invalid character '}' in exponent of numeric literal"),
        (b'{"a":1.5.3}', "invalid character '.' after object key:value pair"),
        (b"1.5e3e", "invalid character 'e' after top-level value"),
        (b'{"a":"\\u12x4"}', "invalid character 'x' in \\u hexadecimal character escape"),
        (b"[1,-Infinity]", "invalid character 'I' in numeric literal"),
        (b'{"a":NaN}', "invalid character 'N' looking for beginning of value"),
        # the offending byte is named as Go's scanner sees it: the first byte of a character
        (b"\xff", "invalid character '\xff' looking for beginning of value"),
        (b"\xef\xbb\xbf{}", "invalid character '\xef' looking for beginning of value"),
        (b"\x07", "invalid character '\\a' looking for beginning of value"),
        (b'{"a":"\x00"}', "invalid character '\\x00' in string literal"),
        (b'{"a":tru}', "invalid character '}' in literal true (expecting 'e')"),
        (b'{"a":fals}', "invalid character '}' in literal false (expecting 'e')"),
        (b"x", "invalid character 'x' looking for beginning of value"),
        (b'{"a":-x}', "invalid character 'x' in numeric literal"),
        (b"[1,]", "invalid character ']' looking for beginning of value"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b'{"a":1 "b":2}', "invalid character '\"' after object key:value pair"),
        (b"[1 2]", "invalid character '2' after array element"),
        (b'{"a":1,}', "invalid character '}' looking for beginning of object key string"),
        (b"{'a':1}", "invalid character '\\'' looking for beginning of object key string"),
        (b'{"a":1} x', "invalid character 'x' after top-level value"),
        (b'{"a":1}{}', "invalid character '{' after top-level value"),
        (b'{"a":"b', "unexpected end of JSON input"),
        (b'{"a":"\x01"}', "invalid character '\\x01' in string literal"),
        (b'{"a":"\\q"}', "invalid character 'q' in string escape code"),
        (b'{"a":1', "unexpected end of JSON input"),
    ],
)
def test_syntax_errors_read_like_go(text: bytes, message: str) -> None:
    with pytest.raises(gojson.JSONSyntaxError) as exc:
        gojson.loads(text)
    assert str(exc.value) == message


@pytest.mark.parametrize("text", [b"NaN", b"Infinity", b"-Infinity", b'{"a": NaN}'])
def test_non_json_constants_are_syntax_errors(text: bytes) -> None:
    with pytest.raises(gojson.JSONSyntaxError):
        gojson.loads(text)


def test_round_trip_through_stdlib_json_is_semantic_identity() -> None:
    obj = {"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.1/24", "interface": 0}], "x": "<&>", "n": -3}
    assert json.loads(gojson.dumps(obj)) == obj
    assert gojson.loads(gojson.dumps(obj)) == obj


def test_gojson_does_not_import_json_or_re() -> None:
    import subprocess
    import sys

    code = ("import sys; from pycni.spec import gojson; gojson.loads(b'{}'); gojson.dumps({'a': 1}); "
            "print(' '.join(m for m in ('json', 're') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path[:0] = {sys.path!r}; {code}"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_a_repeated_key_keeps_every_pair_for_go_style_decoding() -> None:
    v = gojson.loads(b'{"a": 1, "A": 2, "a": null}')
    assert v == {"a": None, "A": 2}
    assert isinstance(v, gojson.DupKeys) and v.pairs == [("a", 1), ("A", 2), ("a", None)]
    assert type(gojson.loads(b'{"a": 1}')) is dict


def test_nesting_up_to_go_limit_parses_and_beyond_it_is_exceeded_max_depth() -> None:
    deep = b"[" * 9999 + b"]" * 9999
    assert gojson.loads(b'{"x":' + deep + b"}")["x"] is not None
    with pytest.raises(gojson.JSONSyntaxError, match="^invalid character '\\[' exceeded max depth$"):
        gojson.loads(b"[" * 10001 + b"]" * 10001)


@pytest.mark.parametrize("text, message", [
    (b'{"a":"]","b":1 "c":2}', "invalid character '\"' after object key:value pair"),  # brackets in strings
    (b'["{" 1]', "invalid character '1' after array element"),
])
def test_container_kind_is_found_past_brackets_inside_strings(text: bytes, message: str) -> None:
    with pytest.raises(gojson.JSONSyntaxError) as exc:
        gojson.loads(text)
    assert str(exc.value) == message
