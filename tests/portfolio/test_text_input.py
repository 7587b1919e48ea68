"""The checks every file or body passes before it is parsed (portfolio.text_input): the
line a refusal names, whatever the file's line ends and however it is read in chunks."""

from __future__ import annotations

import pytest

from portfolio.text_input import CSV_FILE, InputRefused, text_check


@pytest.mark.parametrize(
    "chunks",
    [
        [b"a\nb\nc\x00"],  # LF
        [b"a\r\nb\r\nc\x00"],  # CRLF
        [b"a\rb\rc\x00"],  # bare CR: old Mac files
        [b"a\r", b"\nb\r", b"\nc\x00"],  # CRLF split between chunks: one line end each
        [b"a\r", b"b\r\n", b"c\x00"],
        [b"a\rb\n", b"c", b"\x00"],
    ],
)
def test_a_nul_byte_is_named_by_its_line_whatever_the_line_ends(chunks):
    with pytest.raises(InputRefused) as refused:
        text_check(name="f.csv", chunks=chunks, fmt=CSV_FILE)
    assert refused.value.message == "f.csv holds a NUL byte on line 3; expected CSV text."


@pytest.mark.parametrize(
    "chunks",
    [
        [b"ab\rcd\xe9!"],
        [b"ab\r", b"\ncd\xe9!"],
        [b"ab\r", b"\n", b"cd\xe9!"],
        [b"ab\r\nc", b"d\xe9!"],
    ],
)
def test_a_bad_byte_is_named_by_its_line_and_byte(chunks):
    with pytest.raises(InputRefused) as refused:
        text_check(name="f.csv", chunks=chunks, fmt=CSV_FILE)
    assert refused.value.message.startswith("f.csv is not UTF-8 text: line 2, byte 3 is 0xE9")
