"""pycni.spec.gojson: JSON in and out the way Go's encoding/json does it."""

from __future__ import annotations

import json

import pytest

from pycni import gofmt
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
    assert gofmt.float_text(f) == text


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


def test_gojson_does_not_import_json_re_or_the_json_extension() -> None:
    import subprocess
    import sys

    code = ("import sys; from pycni.spec import gojson; gojson.loads(b'{\"a\": [1.5, \"\\\\u00e9\"]}'); "
            "gojson.dumps({'a': 1}); err = gojson._syntax_error('[x'); "  # the error path too
            "print(' '.join(m for m in ('json', 're', '_json') if m in sys.modules))")
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


# --- the pure-Python reader: cases from a differential run against the _json-based reader it
# replaced and against Go's encoding/json (Debian's reference plugin, Go 1.19)

@pytest.mark.parametrize("text, message", [
    (b'{"a":1,\x0b"b":2}', "invalid character '\\v' looking for beginning of object key string"),
    (b'{"a":1}\x0c', "invalid character '\\f' after top-level value"),
    (b"[1,\x1c2]", "invalid character '\\x1c' looking for beginning of value"),  # str.split() whitespace
    (b"\xc2\xa0{}", "invalid character '\xc2' looking for beginning of value"),  # U+00A0 is not JSON space
    (b'{"a":\xd9\xa1}', "invalid character '\xd9' looking for beginning of value"),  # an Arabic-Indic digit
    (b'{"a":1,"b":2},', "invalid character ',' after top-level value"),
    (b'[{"a":1},{"b":2}],', "invalid character ',' after top-level value"),
    (b'{"a":{},{}}', "invalid character '{' looking for beginning of object key string"),
    (b"[{},{}", "unexpected end of JSON input"),
    (b'[{"a":"b"},{"c":"d"}]x', "invalid character 'x' after top-level value"),
    (b'{\n  "a": "x\ty"\n}', "invalid character '\\t' in string literal"),  # raw tab in a string
    (b'{\n  "a": "x\ny"\n}', "invalid character '\\n' in string literal"),
    (b'{"a":01}', "invalid character '1' after object key:value pair"),
    (b'{"a":.5}', "invalid character '.' looking for beginning of value"),
    (b'{"a":+1}', "invalid character '+' looking for beginning of value"),
    (b'{"a":0x10}', "invalid character 'x' after object key:value pair"),
    (b'{"a":1_000}', "invalid character '_' after object key:value pair"),
    (b"[-01]", "invalid character '1' after array element"),
    (b"[--1]", "invalid character '-' in numeric literal"),
    (b"[1e]", "invalid character ']' in exponent of numeric literal"),
    (b"[1,2,3 4]", "invalid character '4' after array element"),
    (b"[truefalse]", "invalid character 'f' after array element"),
    (b'{"a":"b",,"c":"d"}', "invalid character ',' looking for beginning of object key string"),
    (b'{"a":"b","c"}', "invalid character '}' after object key"),
    (b'{"a""b"}', "invalid character '\"' after object key"),
    (b'{"a":"b",\n  "c":"d",\n  "e"  }', "invalid character '}' after object key"),
    (b"[]]", "invalid character ']' after top-level value"),
    (b'"\\\\\\"', "unexpected end of JSON input"),  # the last quote is escaped
    (b'{"a":"b\\"}', "unexpected end of JSON input"),
])
def test_more_syntax_errors_read_like_go(text: bytes, message: str) -> None:
    with pytest.raises(gojson.JSONSyntaxError) as exc:
        gojson.loads(text)
    assert str(exc.value) == message


def test_compact_and_indented_text_read_the_same() -> None:
    obj = {"cniVersion": "1.0.0", "name": "n", "mtu": 1500, "ipam": {"type": "static", "addresses": [
        {"address": "10.0.0.2/24", "gateway": "10.0.0.1"}, {"address": "fd00::2/64"}]}, "on": True, "x": None,
        "dns": {}, "routes": [], "args": {"cni": {"labels": ["a", "b"]}}, "ratio": 0.5}
    compact = json.dumps(obj, separators=(",", ":")).encode()
    for text in (compact, json.dumps(obj, indent=4).encode(), json.dumps(obj, indent="\t").encode(),
                 json.dumps(obj).encode(), b"\r\n " + compact + b"\n\t"):
        assert gojson.loads(text) == obj


@pytest.mark.parametrize("text, value", [
    (b'{"a\\"b":"x\\"y\\\\"}', {'a"b': 'x"y\\'}),  # escaped quotes in a key and a value
    (b'["\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC"]', ["/\b\f\n\r\t\u00e9\u20ac"]),
    (b'"\\ud83d\\ude00"', "\U0001f600"),  # a surrogate pair is one character
    (b'"\\ud83d\\ud83d\\ude00"', "\ufffd\U0001f600"),  # a lone high half, then a pair
    (b'"\\ude00\\ud83d"', "\ufffd\ufffd"),  # halves in the wrong order
    (b'"\\ud83dx"', "\ufffdx"),
    (b'"\\ud83d\\u0041"', "\ufffdA"),
    (b'"a\xed\xa0\x80b"', "a\ufffd\ufffd\ufffdb"),  # an encoded surrogate: three bad bytes
    (b'"\xe2\x82"', "\ufffd\ufffd"),  # a truncated sequence
    (b'{"\xff":"\\u00e9\xff"}', {"\ufffd": "\u00e9\ufffd"}),  # bad bytes in keys too
    (b"-0", 0),
])
def test_string_and_number_values_decode_as_go(text: bytes, value: object) -> None:
    assert gojson.loads(text) == value


def test_repeated_keys_keep_their_pairs_at_any_depth() -> None:
    v = gojson.loads(b'[{"a":"1","b":"2","a":"3"},{"c":{"d":1,"d":{"e":[1,2]}}},{"x":"y"}]')
    assert v == [{"a": "3", "b": "2"}, {"c": {"d": {"e": [1, 2]}}}, {"x": "y"}]
    assert isinstance(v[0], gojson.DupKeys) and v[0].pairs == [("a", "1"), ("b", "2"), ("a", "3")]
    assert isinstance(v[1]["c"], gojson.DupKeys) and v[1]["c"].pairs == [("d", 1), ("d", {"e": [1, 2]})]
    assert type(v[1]) is dict and type(v[2]) is dict
    pretty = gojson.loads(b'{\n    "k": "v",\n    "k": "w",\n    "k": 3\n}')
    assert pretty == {"k": 3} and pretty.pairs == [("k", "v"), ("k", "w"), ("k", 3)]


def test_an_integer_too_long_for_int_is_a_gofloat_keeping_its_text() -> None:
    # Python's int() refuses more than 4300 digits; Go reads the literal (as an out-of-range float64).
    digits = "1" * 5000
    v = gojson.loads(f'{{"mtu": {digits}}}'.encode())["mtu"]
    assert isinstance(v, gojson.GoFloat) and v.text == digits and v == float("inf")


def test_text_given_as_str_with_undecodable_bytes_reads_like_the_bytes() -> None:
    raw = b'{"a\xff": ["x\xc3"]}'
    assert gojson.loads(raw.decode("utf-8", "surrogateescape")) == gojson.loads(raw) == {"a\ufffd": ["x\ufffd"]}


def test_deep_nesting_is_read_without_recursion() -> None:
    deep = b"[" * 10000 + b'"\xff"' + b"]" * 10000  # Go's limit, with a bad byte (the old reader recursed here)
    v = gojson.loads(deep)
    for _ in range(10000):
        v = v[0]
    assert v == "\ufffd"
    # The first error is the one Go reports: past the limit even if the text goes wrong later.
    for text in (b"[" * 10001, b"[" * 10001 + b"x", b'{"a":' * 10001 + b"1" + b"}" * 10001):
        with pytest.raises(gojson.JSONSyntaxError, match="exceeded max depth$"):
            gojson.loads(text)


def test_the_reader_and_the_go_scanner_model_agree_on_mutated_configs() -> None:
    """loads() takes a fast path and asks the model of Go's scanner only about text it refuses
    (and fails loudly if the model accepts that text); here the model also confirms every
    text loads() accepts."""
    import random

    rnd = random.Random(1234)
    bases = [
        b'{"cniVersion":"1.0.0","name":"n","ipam":{"type":"static","addresses":[{"address":"10.0.0.2/24"},'
        b'{"address":"fd00::2/64","gateway":"fd00::1"}],"routes":[{"dst":"0.0.0.0/0"}]},"mtu":1500,'
        b'"x":[1.5e3,true,null]}',
        b'{\n    "a": "\\"q\\" \\u00e9",\n    "b": [\n        {},\n        []\n    ],\n    "c": -0.5\n}',
    ]
    alphabet = [bytes([c]) for c in b'{}[]:,"\\ -+.eE019tfnul\t\n'] + [b"\x00", b"\x1f", b"\xff", b"\xc3"]
    accepted = 0
    for _ in range(3000):
        text = rnd.choice(bases)
        for _ in range(rnd.randrange(1, 4)):
            at = rnd.randrange(len(text) + 1)
            roll = rnd.random()
            if roll < 0.2:
                text = text[:at]
            elif roll < 0.5:
                text = text[:at] + rnd.choice(alphabet) + text[at:]
            elif roll < 0.8:
                text = text[:at] + text[at + 1:]
            else:
                text = text[:at] + rnd.choice(alphabet) + text[at + 1:]
        try:
            gojson.loads(text)
        except gojson.JSONSyntaxError:
            continue
        accepted += 1
        with pytest.raises(AssertionError):  # the model finds no error either
            gojson._syntax_error(text.decode("utf-8", "surrogateescape"))
    assert accepted > 100
