#!/usr/bin/env python3
"""Writes the committed corpus of malformed inputs: Tests/Fixtures/fuzz-corpus.

    python3 tools/fuzz/make_corpus.py           # (re)write the corpus
    python3 tools/fuzz/make_corpus.py --check   # exit 1 if the committed corpus differs

Pure Python, no packages: every file is built byte by byte here, so the corpus is reproducible
and each file's expected outcome sits next to the bytes that cause it. The corpus seeds
`reflexctl fuzz` and is checked file by file by Tests/ReflexToolsTests/FuzzTests.swift.

Wire files hold one multipart message as a ROUTER socket receives it (the routing identity
first), framed as repeated [u32 little-endian length][bytes]. They are decoded against the
tiny fixture's inputs (image uint8[32, 32, 3], state float32[4]) with max_message_bytes 65536
and the decoder's default header limit of 65536 bytes.
"""

import argparse
import json
import os
import struct
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "fuzz-corpus")

MAX_MESSAGE_BYTES = 65536
MAX_HEADER_BYTES = 65536

IDENTITY = b"\x00\x6b\x8b\x45\x67"  # what a ROUTER makes up for a peer: 5 bytes, a zero first
IMAGE = bytes((i * 7 + 3) & 0xFF for i in range(32 * 32 * 3))
STATE_VALUES = [0.5, -1.0, 2.25, 0.0]
IMAGE_SPEC = {"name": "image", "dtype": "uint8", "shape": [32, 32, 3]}
STATE_SPEC = {"name": "state", "dtype": "float32", "shape": [4]}


def f32(values):
    return b"".join(struct.pack("<f", v) for v in values)


def f32_bits(bits_list):
    return b"".join(struct.pack("<I", b) for b in bits_list)


STATE = f32(STATE_VALUES)


def step_fields(**changes):
    """The valid step header's fields with `changes` applied (a value of DROP removes the key)."""
    fields = {
        "v": 1, "type": "step", "robot": "arm-1", "seq": 7, "instruction": "open the drawer",
        "tensors": [dict(IMAGE_SPEC), dict(STATE_SPEC)],
    }
    for key, value in changes.items():
        if value is DROP:
            fields.pop(key, None)
        else:
            fields[key] = value
    return fields


DROP = object()


def dumps(fields):
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def step(header=None, frames=None, **changes):
    """A step message: identity, header (bytes, or the valid one with `changes`), tensor frames."""
    if header is None:
        header = dumps(step_fields(**changes))
    if frames is None:
        frames = [IMAGE, STATE]
    return [IDENTITY, header] + frames


def ping(header=b'{"v":1,"type":"ping","seq":1}', frames=()):
    return [IDENTITY, header] + list(frames)


def frame_file(frames):
    return b"".join(struct.pack("<I", len(f)) + f for f in frames)


def state_with(bits):
    """The valid state with element 2 replaced by a raw float32 bit pattern."""
    values = [struct.unpack("<I", struct.pack("<f", v))[0] for v in STATE_VALUES]
    values[2] = bits
    return f32_bits(values)


def valid_header_text():
    return dumps(step_fields()).decode("utf-8")


def replace_in_header(old, new):
    text = valid_header_text()
    assert old in text, old
    return text.replace(old, new, 1).encode("utf-8")


# Each wire file: (name, frames, expected, what it is). `expected` is the error code of the reply,
# `accepted` for the valid references, or `dropped` when there is no routable identity to answer.
WIRE = [
    # Valid references (the framing, and what the mutants start from).
    ("valid-step", step(), "accepted", "a good step from a DEALER without a delimiter"),
    ("valid-step-delimiter", [IDENTITY, b""] + step()[1:], "accepted", "a good step from a REQ socket (empty delimiter)"),
    ("valid-ping", ping(), "accepted", "a ping without robot"),
    ("valid-reset", [IDENTITY, b'{"v":1,"type":"reset","robot":"arm-1","seq":2}'], "accepted", "a reset"),
    # Envelope.
    ("no-frames", [], "dropped", "an empty message: no identity to answer"),
    ("identity-empty", [b"", dumps(step_fields()), IMAGE, STATE], "dropped", "frame 0 (the identity) is empty"),
    ("body-missing", [IDENTITY], "bad_header", "only the identity: no header frame"),
    ("body-missing-after-delimiter", [IDENTITY, b""], "bad_header", "identity and delimiter, nothing after"),
    ("header-empty-taken-for-delimiter", [IDENTITY, b"", IMAGE, STATE], "bad_header",
     "an empty header frame reads as a delimiter, so the image bytes become the header"),
    # Not JSON.
    ("header-not-json", step(header=b"hello"), "bad_header", "header is plain text"),
    ("header-whitespace", step(header=b" \t\r\n "), "bad_header", "header is only whitespace"),
    ("header-array", step(header=b"[1,2,3]"), "bad_header", "header is a JSON list, not an object"),
    ("header-string", step(header=b'"step"'), "bad_header", "header is a JSON string"),
    ("header-truncated", step(header=dumps(step_fields())[:60]), "bad_header", "header cut off mid-object"),
    ("header-trailing-comma", step(header=replace_in_header('"seq":7,', '"seq":7,,')), "bad_header",
     "two commas between members"),
    ("header-trailing-garbage", step(header=dumps(step_fields()) + b"}"), "bad_header", "a second '}' after the object"),
    ("header-comment", step(header=b"/* hi */" + dumps(step_fields())), "bad_header", "a comment before the object"),
    ("header-key-unquoted", step(header=replace_in_header('"seq":7', "seq:7")), "bad_header", "an unquoted key"),
    ("header-single-quotes", step(header=replace_in_header('"robot":"arm-1"', "'robot':'arm-1'")), "bad_header",
     "single-quoted strings"),
    ("header-bom", step(header=b"\xef\xbb\xbf" + dumps(step_fields())), "bad_header", "a UTF-8 byte-order mark first"),
    ("header-nan-literal", step(header=replace_in_header('"seq":7', '"seq":7,"deadline_ms":NaN')), "bad_header",
     "NaN is not a JSON literal"),
    ("header-infinity-literal", step(header=replace_in_header('"seq":7', '"seq":7,"deadline_ms":-Infinity')),
     "bad_header", "-Infinity is not a JSON literal"),
    ("header-leading-zero", step(header=replace_in_header('"seq":7', '"seq":07')), "bad_header",
     "a number with a leading zero"),
    ("header-raw-control-char", step(header=replace_in_header("open the", "open\tthe")), "bad_header",
     "a raw tab inside a string"),
    ("header-invalid-escape", step(header=replace_in_header("open the", "open\\xthe")), "bad_header",
     "an escape JSON does not have"),
    ("header-lone-surrogate-escape", step(header=replace_in_header("open the", "open\\ud800the")), "bad_header",
     "\\ud800 without its low half"),
    ("header-invalid-utf8", step(header=dumps(step_fields()).replace(b"open the", b"open\xff\xfethe")), "bad_header",
     "bytes 0xFF 0xFE inside a string"),
    ("header-overlong-utf8", step(header=dumps(step_fields()).replace(b"open the", b"open\xc0\xafthe")), "bad_header",
     "an overlong encoding of '/'"),
    ("header-surrogate-utf8", step(header=dumps(step_fields()).replace(b"open the", b"open\xed\xa0\x80the")),
     "bad_header", "a UTF-16 surrogate encoded as UTF-8"),
    ("header-truncated-utf8", step(header=dumps(step_fields()).replace(b"open the", b"open\xe2\x82")), "bad_header",
     "a 3-byte sequence cut after 2 bytes"),
    ("header-invalid-utf8-outside-string", step(header=b"\xc3" + dumps(step_fields())), "bad_header",
     "a stray lead byte before the object"),
    ("header-key-not-string", step(header=b'{1:2}'), "bad_header", "a number as an object key"),
    ("duplicate-key", step(header=replace_in_header('"seq":7', '"seq":7,"seq":8')), "bad_header",
     "seq given twice (which one wins differs between parsers)"),
    ("nesting-deep", step(header=replace_in_header('"seq":7', '"seq":7,"x":' + "[" * 5000 + "]" * 5000)),
     "bad_header", "5,000 nested lists in an unknown field"),
    ("nesting-33", step(header=replace_in_header('"seq":7', '"seq":7,"x":' + "[" * 32 + "]" * 32)), "bad_header",
     "33 levels counting the header object: one past the limit"),
    ("oversize-header", step(header=replace_in_header('"seq":7', '"seq":7,"pad":"' + "x" * MAX_HEADER_BYTES + '"')),
     "too_large", "a header over the 64 KiB header limit"),
    ("oversize-message", step(frames=[IMAGE * 22, STATE]), "too_large",
     "a 67,584-byte image frame: the message is over max_message_bytes (65536)"),
    # v and type.
    ("v-missing", step(v=DROP), "bad_header", "no \"v\""),
    ("v-2", step(v=2), "bad_header", "protocol version 2"),
    ("v-string", step(v="1"), "bad_header", "\"v\": \"1\""),
    ("v-float", step(header=replace_in_header('"v":1', '"v":1.0')), "bad_header", "\"v\": 1.0"),
    ("v-bool", step(v=True), "bad_header", "\"v\": true"),
    ("type-missing", step(type=DROP), "bad_header", "no \"type\""),
    ("type-number", step(type=1), "bad_header", "\"type\": 1"),
    ("type-unknown", step(type="dance"), "unknown_type", "\"type\": \"dance\""),
    ("type-uppercase", step(type="STEP"), "unknown_type", "types are case-sensitive"),
    # robot.
    ("robot-missing", step(robot=DROP), "bad_header", "a step without robot"),
    ("robot-empty", step(robot=""), "bad_header", "\"robot\": \"\""),
    ("robot-65-chars", step(robot="r" * 65), "bad_header", "one character over the 64 allowed"),
    ("robot-slash", step(robot="arm/1"), "bad_header", "'/' is not allowed in a robot id"),
    ("robot-non-ascii", step(robot="bräs"), "bad_header", "non-ASCII letters in a robot id"),
    ("robot-number", step(robot=1), "bad_header", "\"robot\": 1"),
    ("robot-nul-escape", step(header=replace_in_header('"arm-1"', '"arm\\u00001"')), "bad_header",
     "a NUL (escaped) inside a robot id"),
    # seq.
    ("seq-missing", step(seq=DROP), "bad_header", "no \"seq\""),
    ("seq-negative", step(seq=-1), "bad_header", "\"seq\": -1"),
    ("seq-float", step(header=replace_in_header('"seq":7', '"seq":7.0')), "bad_header", "\"seq\": 7.0"),
    ("seq-exponent", step(header=replace_in_header('"seq":7', '"seq":7e0')), "bad_header", "\"seq\": 7e0"),
    ("seq-bool", step(seq=True), "bad_header", "\"seq\": true"),
    ("seq-string", step(seq="7"), "bad_header", "\"seq\": \"7\""),
    ("seq-null-on-step", step(seq=None), "bad_header", "\"seq\": null (absent) on a step"),
    ("seq-2pow64", step(header=replace_in_header('"seq":7', '"seq":18446744073709551616')), "bad_header",
     "2^64: one past the largest seq"),
    ("huge-number", step(header=replace_in_header('"seq":7', '"seq":1' + "0" * 400)), "bad_header",
     "a 401-digit seq"),
    ("huge-exponent", step(header=replace_in_header('"seq":7', '"seq":1e309')), "bad_header",
     "1e309 overflows a double"),
    # The step's own fields.
    ("instruction-missing", step(instruction=DROP), "bad_header", "a step without instruction"),
    ("instruction-number", step(instruction=5), "bad_header", "\"instruction\": 5"),
    ("instruction-huge", step(instruction=" ".join(f"w{i}" for i in range(2000))), "bad_header",
     "a 12 KB instruction of distinct words (at most 4,096 bytes)"),
    ("deadline-zero", step(deadline_ms=0), "bad_header", "\"deadline_ms\": 0"),
    ("deadline-negative", step(deadline_ms=-5), "bad_header", "\"deadline_ms\": -5"),
    ("deadline-string", step(deadline_ms="50"), "bad_header", "\"deadline_ms\": \"50\""),
    ("deadline-overflow", step(header=replace_in_header('"seq":7', '"seq":7,"deadline_ms":1e400')), "bad_header",
     "1e400 is infinite as a double"),
    ("deadline-underflow", step(header=replace_in_header('"seq":7', '"seq":7,"deadline_ms":1e-400')), "bad_header",
     "1e-400 is zero as a double"),
    # Tensors.
    ("tensors-not-list", step(tensors={"image": [32, 32, 3]}), "bad_header", "\"tensors\" is an object"),
    ("tensors-missing", step(tensors=DROP), "bad_tensor", "no tensors listed, two frames sent"),
    ("tensors-entry-not-object", step(tensors=["image", "state"]), "bad_tensor", "tensors listed by name only"),
    ("tensor-name-missing", step(tensors=[{"dtype": "uint8", "shape": [32, 32, 3]}, STATE_SPEC]), "bad_tensor",
     "a tensor without name"),
    ("tensor-name-unknown", step(tensors=[dict(IMAGE_SPEC, name="depth"), STATE_SPEC]), "bad_tensor",
     "a tensor the model does not take"),
    ("tensor-listed-twice", step(tensors=[IMAGE_SPEC, IMAGE_SPEC], frames=[IMAGE, IMAGE]), "bad_tensor",
     "image listed twice, state missing"),
    ("dtype-float64", step(tensors=[IMAGE_SPEC, dict(STATE_SPEC, dtype="float64")], frames=[IMAGE, STATE + STATE]),
     "bad_tensor", "a dtype the protocol does not carry"),
    ("dtype-wrong", step(tensors=[dict(IMAGE_SPEC, dtype="float32"), STATE_SPEC]), "bad_tensor",
     "the image declared float32"),
    ("dtype-missing", step(tensors=[IMAGE_SPEC, {"name": "state", "shape": [4]}]), "bad_tensor", "no dtype"),
    ("shape-missing", step(tensors=[IMAGE_SPEC, {"name": "state", "dtype": "float32"}]), "bad_tensor", "no shape"),
    ("shape-negative", step(tensors=[dict(IMAGE_SPEC, shape=[-32, 32, 3]), STATE_SPEC]), "bad_tensor",
     "a negative dimension"),
    ("shape-float", step(header=replace_in_header("[32,32,3]", "[32.0,32,3]")), "bad_tensor",
     "a dimension written 32.0"),
    ("shape-string", step(tensors=[dict(IMAGE_SPEC, shape="32x32x3"), STATE_SPEC]), "bad_tensor",
     "the shape as a string"),
    ("shape-wrong", step(tensors=[dict(IMAGE_SPEC, shape=[32, 32, 4]), STATE_SPEC]), "bad_tensor",
     "a shape the model does not take"),
    ("shape-empty", step(tensors=[IMAGE_SPEC, dict(STATE_SPEC, shape=[])]), "bad_tensor", "a scalar for the state"),
    ("shape-2pow64", step(header=replace_in_header("[4]", "[18446744073709551616]")), "bad_tensor",
     "a dimension of 2^64"),
    ("shape-overflow", step(tensors=[dict(IMAGE_SPEC, shape=[4294967296, 4294967296, 3]), STATE_SPEC]), "bad_tensor",
     "dimensions whose product overflows 64 bits"),
    ("shape-dtype-overflow", step(tensors=[IMAGE_SPEC, dict(STATE_SPEC, shape=[2305843009213693952])]), "bad_tensor",
     "2^61 float32 elements: the element count fits, the byte count overflows"),
    ("frames-missing", step(frames=[IMAGE]), "bad_tensor", "two tensors listed, one frame sent"),
    ("frames-none", step(frames=[]), "bad_tensor", "two tensors listed, no frame sent"),
    ("frames-extra", step(frames=[IMAGE, STATE, STATE]), "bad_tensor", "a third tensor frame nobody listed"),
    ("frames-swapped", step(frames=[STATE, IMAGE]), "bad_tensor", "frames in the other order than listed"),
    ("frames-too-many", ping(frames=[b""] * 65), "bad_tensor", "65 empty frames after a ping (at most 64 are read)"),
    ("ping-with-frame", ping(frames=[STATE]), "bad_tensor", "a ping carries no tensor"),
    ("reset-with-frame", [IDENTITY, b'{"v":1,"type":"reset","robot":"arm-1","seq":2}', IMAGE], "bad_tensor",
     "a reset carries no tensor"),
    ("frame-short", step(frames=[IMAGE[:-1], STATE]), "bad_tensor", "the image frame one byte short"),
    ("frame-long", step(frames=[IMAGE, STATE + b"\x00"]), "bad_tensor", "the state frame one byte long"),
    ("frame-empty", step(frames=[IMAGE, b""]), "bad_tensor", "an empty state frame"),
    ("nan-state", step(frames=[IMAGE, state_with(0x7FC00000)]), "bad_tensor", "a quiet NaN in the state"),
    ("snan-state", step(frames=[IMAGE, state_with(0x7F800001)]), "bad_tensor", "a signalling NaN in the state"),
    ("negative-nan-state", step(frames=[IMAGE, state_with(0xFFC00000)]), "bad_tensor", "a NaN with the sign bit set"),
    ("inf-state", step(frames=[IMAGE, state_with(0x7F800000)]), "bad_tensor", "+infinity in the state"),
    ("negative-inf-state", step(frames=[IMAGE, state_with(0xFF800000)]), "bad_tensor", "-infinity in the state"),
]


# Each config file: (name, text bytes, expected, what it is). `expected` is the first problem
# `reflexd --check-config` prints for it, as `LINE:COLUMN: message start`.
SHIPPED_YAML = open(os.path.join(ROOT, "etc", "reflexd.yaml"), "rb").read()

MINIMAL = b"model: ../models/default\n"


def minimal_with(text):
    return MINIMAL + text.encode("utf-8")


def billion_laughs(levels=9, width=9, as_key=False):
    body = ["x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        body.append(f"x{i}: &x{i} [" + ", ".join([f"*x{i-1}"] * width) + "]")
    key = f"? *x{levels - 1}\n: 1\n" if as_key else ""
    return ("model: ../models/default\nunknown:\n" + "".join(f"  {b}\n" for b in body) + key).encode("utf-8")


CONFIG = [
    ("window-sexagesimal-overflow", minimal_with("scheduler:\n  window: 1:0:0:0:0:0:0:0:0:0:0:0:0\n"),
     "3:11: scheduler.window: write the number in plain decimal, got 1:0:0:0:0:0:0:0:0:0:0:0:0 (YAML 1.1 reads it in base 60)",
     "a YAML 1.1 base-60 integer past Int.max (Yams multiplies its parts unchecked: a trap before the fix)"),
    ("threads-sexagesimal-overflow", minimal_with("engine:\n  threads: -9223372036854775807:59\n"),
     "3:12: engine.threads: write the number in plain decimal, got -9223372036854775807:59 (YAML 1.1 reads it in base 60)",
     "a negative base-60 integer past Int.min"),
    ("memory-sexagesimal-overflow", minimal_with("budget:\n  memory_mb: 99:59:59:59:59:59:59:59:59:59:59:59\n"),
     "3:14: budget.memory_mb: write the number in plain decimal, got 99:59:59:59:59:59:59:59:59:59:59:59 (YAML 1.1 reads it in base 60)",
     "a base-60 number read as a plain number"),
    ("window-sexagesimal-explicit-tag", minimal_with("scheduler:\n  window: !!int 1:0:0:0:0:0:0:0:0:0:0:0:0\n"),
     "3:11: scheduler.window: write the number in plain decimal, got 1:0:0:0:0:0:0:0:0:0:0:0:0 (YAML 1.1 reads it in base 60)",
     "the same, tagged !!int"),
    ("window-huge", minimal_with("scheduler:\n  window: 99999999999999999999999\n"),
     "3:11: scheduler.window: must be an integer from 1 to 1048576", "an integer past Int.max"),
    ("window-hex-overflow", minimal_with("scheduler:\n  window: 0x1ffffffffffffffff\n"),
     "3:11: scheduler.window: write the number in plain decimal, got 0x1ffffffffffffffff (YAML 1.1 reads it in another base)",
     "a hexadecimal integer past Int.max"),
    ("deadline-octal", minimal_with("budget:\n  deadline_ms: 050\n"),
     "3:16: budget.deadline_ms: write the number without leading zeros, got 050 (YAML 1.1 reads it as octal: 40)",
     "a leading zero: YAML 1.1 octal, read as 40 before the fix"),
    ("idle-huge", minimal_with("limits:\n  session_idle_s: 1e11\n"),
     "3:19: limits.session_idle_s: must be > 0 and at most 604800 (one week)",
     "a duration whose nanoseconds overflow UInt64 (trapped at start and on SIGHUP before the fix)"),
    ("window-float", minimal_with("scheduler:\n  window: 512.5\n"),
     "3:11: scheduler.window: must be an integer from 1 to 1048576", "a fraction where an integer goes"),
    ("window-string", minimal_with('scheduler:\n  window: "512"\n'),
     "3:11: scheduler.window: must be an integer from 1 to 1048576", "a quoted number is a string"),
    ("fraction-nan", minimal_with("budget:\n  average_fraction: .nan\n"),
     "3:21: budget.average_fraction: must be a finite number", "YAML's NaN"),
    ("deadline-inf", minimal_with("budget:\n  deadline_ms: .inf\n"),
     "3:16: budget.deadline_ms: must be a finite number", "YAML's infinity"),
    ("deadline-overflow", minimal_with("budget:\n  deadline_ms: 1.0e+400\n"),
     "3:16: budget.deadline_ms: must be a finite number", "a float literal past Double's range"),
    ("deadline-negative", minimal_with("budget:\n  deadline_ms: -5\n"),
     "3:16: budget.deadline_ms: must be > 0", "a negative deadline"),
    ("memory-bool", minimal_with("budget:\n  memory_mb: yes\n"),
     "3:14: budget.memory_mb: must be a number", "YAML 1.1's yes is a boolean"),
    ("curve-enabled-string", minimal_with("security:\n  curve:\n    enabled: 'true'\n"),
     "4:14: security.curve.enabled: must be true or false", "a quoted boolean"),
    ("empty", b"", "1:1: the config is empty", "an empty file"),
    ("only-comment", b"# nothing here\n", "1:1: the config is empty", "a file with only a comment"),
    ("not-mapping", b"- model\n- ../models/default\n", "1:1: the config: must be a mapping of keys",
     "a list at the top"),
    ("scalar-document", b"model\n", "1:1: the config: must be a mapping of keys", "a bare word"),
    ("model-missing", b"engine:\n  threads: 1\n", "1:1: model: missing", "no model"),
    ("model-list", b"model: [a, b]\n", "1:8: model: must be a string", "the model as a list"),
    ("model-empty", b'model: ""\n', "1:8: model: must not be empty", "an empty model path"),
    ("section-scalar", minimal_with("budget: 0.4\n"), "2:9: budget: must be a mapping of keys",
     "a section given as a value"),
    ("unknown-key", minimal_with("bugdet:\n  deadline_ms: 50\n"), "2:1: bugdet: unknown key (did you mean 'budget'?)",
     "a misspelt section"),
    ("key-not-scalar", minimal_with("? [a, b]\n: 1\n"), "2:3: keys must be plain names", "a list as a key"),
    ("duplicate-key", minimal_with("engine:\n  threads: 1\n  threads: 2\n"), "4:3: duplicate key 'threads'",
     "the same key twice in one mapping"),
    ("tab-indent", minimal_with("engine:\n\tthreads: 1\n"), "3:1: YAML syntax error",
     "a tab for indentation"),
    ("unterminated-quote", minimal_with('logging:\n  level: "info\n'), "4:1: YAML syntax error",
     "a quote that never closes"),
    ("unterminated-flow", minimal_with("engine: {threads: 1\n"), "3:1: YAML syntax error", "a '{' that never closes"),
    ("bad-indentation", minimal_with("engine:\n    threads: 1\n  x: 2\n"), "4:3: YAML syntax error",
     "a dedent to a column no mapping started at"),
    ("nesting-deep", minimal_with("x: " + "[" * 5000 + "]" * 5000 + "\n"),
     "2:5: YAML syntax error: Maximum nesting level reached", "5,000 nested flow lists (libyaml stops at 1,000)"),
    ("nul-byte", minimal_with("logging:\n  level: in\x00fo\n"), "3:12: YAML reader error",
     "a NUL byte inside a value"),
    ("invalid-utf8", MINIMAL + b"logging:\n  level: inf\xc3\x28o\n", "3:13: the config file is not valid UTF-8",
     "a broken two-byte sequence (read with load(path:))"),
    ("two-documents", minimal_with("---\nengine:\n  threads: 2\n"), "2:1: YAML syntax error",
     "a second YAML document in the file"),
    ("undefined-alias", minimal_with("engine:\n  threads: *n\n"), "3:12: YAML syntax error", "an alias never anchored"),
    ("alias-as-section", b"model: &m ../models/default\nbudget: *m\n", "1:8: budget: must be a mapping of keys",
     "an alias to a string where a section goes (reported where the anchored value is)"),
    ("merge-key", minimal_with("base: &b {threads: 2}\nengine:\n  <<: *b\n"), "2:1: base: unknown key",
     "YAML merge keys are not part of the format"),
    ("billion-laughs", billion_laughs(), "6:42: more than 24 YAML aliases",
     "9 levels of aliases, each 9 wide: 387 million strings if expanded"),
    ("billion-laughs-as-key", billion_laughs(as_key=True), "6:42: more than 24 YAML aliases",
     "the same used as a mapping key: Yams hashes keys in full (a hang of hours before the alias limit)"),
    ("aliases-as-key-within-limit", billion_laughs(levels=8, width=3, as_key=True), "2:1: unknown: unknown key",
     "22 aliases, 3 wide and 7 deep, used as a key: 2,187 copies, read in milliseconds"),
    ("aliases-in-comments", minimal_with("".join(f"# * note {i}\n" for i in range(40)) + "engine: {threads: x}\n"),
     "42:19: engine.threads: must be an integer from 1 to 256", "asterisks in whole-line comments are not aliases"),
    ("control-on-network", minimal_with("endpoints:\n  control: tcp://0.0.0.0:5557\n"),
     "3:12: endpoints.control: tcp://0.0.0.0:5557 is reachable from other machines", "the control socket on the network"),
    ("endpoint-port-overflow", minimal_with("endpoints:\n  policy: tcp://127.0.0.1:65536\n"),
     "3:11: endpoints.policy: tcp port must be 1-65535 or *", "port 65536"),
    ("endpoint-ipc-too-long", minimal_with("endpoints:\n  policy: ipc:///" + "p" * 200 + "\n"),
     "3:11: endpoints.policy: ipc path is 201 bytes", "an ipc path longer than a Unix socket allows"),
    ("key-long", minimal_with("k" * 1000 + ": 1\n"), "2:1: " + "k" * 1000 + ": unknown key",
     "a 1,000-character key (the suggestion search stays linear in it)"),
    ("key-huge", minimal_with("k" * 20000 + ": 1\n"), "2:20001: YAML syntax error: could not find expected ':'",
     "a 20,000-character key: libyaml takes at most 1,024 characters for a plain key"),
    ("shipped-with-typo", SHIPPED_YAML.replace(b"  window: 512", b"  window: 5:12:00:00:00:00:00:00:00:00:00:00:00"),
     None, "the shipped file with a base-60 window past Int.max"),
]


def config_line_of(text, needle):
    for number, line in enumerate(text.split(b"\n"), start=1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(needle)


def expected_config():
    result = {}
    for name, text, expected, _ in CONFIG:
        if expected is None:  # shipped-with-typo: computed from where the typo landed
            line, column = config_line_of(text, b"5:12:00")
            expected = (f"{line}:{column}: scheduler.window: write the number in plain decimal, "
                        "got 5:12:00:00:00:00:00:00:00:00:00:00:00 (YAML 1.1 reads it in base 60)")
        result[name + ".yaml"] = expected
    return result


def readme(expected_wire, expected_cfg):
    lines = [
        "# Fuzz corpus: malformed inputs and what each must get",
        "",
        "Written by `python3 tools/fuzz/make_corpus.py` (pure Python, deterministic; `--check` compares",
        "the committed files with what it would write). Do not edit the files by hand: change the script.",
        "`reflex fuzz` starts its mutations from these files (plus a few valid requests and",
        "`etc/reflexd.yaml`), and `Tests/ReflexToolsTests/FuzzTests.swift` checks that every file gets",
        "exactly the outcome listed here (the same list is in `expected.json`).",
        "",
        "## `wire/*.bin`: one multipart message per file",
        "",
        "A message is stored as it arrives on the ROUTER socket, the routing identity frame first:",
        "repeated `[u32 little-endian length][that many bytes]`, one per frame, nothing else. A file of",
        "0 bytes is a message of 0 frames. In Python:",
        "",
        "```python",
        "def frames(data):",
        "    out, i = [], 0",
        "    while i < len(data):",
        "        n = int.from_bytes(data[i:i + 4], 'little'); out.append(data[i + 4:i + 4 + n]); i += 4 + n",
        "    return out",
        "```",
        "",
        "Each message goes through `RoutingEnvelope.split` and `RequestDecoder.decode` with the tiny",
        "fixture's inputs (`image` uint8[32, 32, 3], `state` float32[4]), `max_message_bytes` 65536 and",
        "the default header limit (65536 bytes). The identity is `00 6b 8b 45 67`; the valid step's",
        "header is",
        "",
        "```json",
        dumps(step_fields()).decode("utf-8"),
        "```",
        "",
        "and its frames are 3,072 image bytes and 16 state bytes (0.5, -1, 2.25, 0). Outcomes:",
        "an error code of CONTRACT section 5; `accepted` for the valid references; `dropped` when",
        "the message has no routing identity (nothing can be sent back).",
        "",
        "| file | expected | what it is |",
        "|---|---|---|",
    ]
    for name, _, expected, what in WIRE:
        lines.append(f"| `{name}.bin` | `{expected}` | {what} |")
    lines += [
        "",
        "## `config/*.yaml`: one config file each",
        "",
        "Loaded with `ConfigLoader.load(path:)` (so `invalid-utf8.yaml` reaches the UTF-8 check). The",
        "second column is how the first problem `reflexd --check-config FILE` prints for it begins",
        "(`LINE:COLUMN: message`, after the file name). None of them is a valid config.",
        "",
        "| file | first problem | what it is |",
        "|---|---|---|",
    ]
    for name, _, _, what in CONFIG:
        shown = expected_cfg[name + ".yaml"]
        if len(shown) > 90:
            shown = shown[:60] + "…"
        shown = shown.replace("|", "\\|")
        lines.append(f"| `{name}.yaml` | `{shown}` | {what} |")
    lines.append("")
    return "\n".join(lines).encode("utf-8")


def outputs():
    files = {}
    names = set()
    for name, frames, _, _ in WIRE:
        assert name not in names, name
        names.add(name)
        files[os.path.join("wire", name + ".bin")] = frame_file(frames)
    names = set()
    for name, text, _, _ in CONFIG:
        assert name not in names, name
        names.add(name)
        files[os.path.join("config", name + ".yaml")] = text
    expected_wire = {name + ".bin": expected for name, _, expected, _ in WIRE}
    expected_cfg = expected_config()
    expected = {"wire": expected_wire, "config": expected_cfg}
    files["expected.json"] = (json.dumps(expected, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    files["README.md"] = readme(expected_wire, expected_cfg)
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed corpus instead of writing")
    parser.add_argument("--out", default=OUT, help="corpus directory [%(default)s]")
    args = parser.parse_args()
    files = outputs()
    if args.check:
        wanted = set(files)
        present = set()
        for sub in ("wire", "config"):
            folder = os.path.join(args.out, sub)
            if os.path.isdir(folder):
                present |= {os.path.join(sub, f) for f in os.listdir(folder)}
        present |= {f for f in ("expected.json", "README.md") if os.path.exists(os.path.join(args.out, f))}
        stale = sorted(present - wanted)
        differing = sorted(p for p in wanted if not os.path.exists(os.path.join(args.out, p))
                           or open(os.path.join(args.out, p), "rb").read() != files[p])
        for p in stale:
            print(f"not written by the script: {p}", file=sys.stderr)
        for p in differing:
            print(f"differs: {p}", file=sys.stderr)
        sys.exit(1 if stale or differing else 0)
    for sub in ("wire", "config"):
        folder = os.path.join(args.out, sub)
        os.makedirs(folder, exist_ok=True)
        for f in os.listdir(folder):  # files of entries since removed
            if os.path.join(sub, f) not in files:
                os.remove(os.path.join(folder, f))
    for path, data in files.items():
        with open(os.path.join(args.out, path), "wb") as handle:
            handle.write(data)
    total = sum(len(d) for d in files.values())
    print(f"wrote {len(WIRE)} wire and {len(CONFIG)} config files ({total:,} bytes) to {args.out}")


if __name__ == "__main__":
    main()
