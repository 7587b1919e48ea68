"""The checks every file or body of data passes before it is parsed: one rule set.

The event CSV upload page, ``import_events``, the model page, the model API,
``import_model`` and the bulk event API all read text that someone else
produced. Before a parser sees it, it must be UTF-8 text (a UTF-8 byte order
mark is accepted: Excel writes one), without NUL bytes, not empty, and not a
binary file under a text file's name. Each refusal says which line (and, for
bad bytes, which byte of it) is wrong, so the sender can find it.

JSON is then parsed by ``json_parse``, the one parser of every JSON body and
file (the API's parsers, the model, the webhooks), so that invalid JSON and
JSON nested too deeply to read are refused alike, with one message.

What a file *declares* itself to be is not trusted either way: browsers send a
``.csv`` as ``text/csv``, ``application/vnd.ms-excel``, ``text/plain`` or
``application/octet-stream`` depending on the machine, so the content decides.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError


class InputRefused(ValidationError):
    """The input was refused before anything was read into the database.

    ``status`` is the HTTP status an interface answers with: 413 for an input
    over its size limit, 400 otherwise. Commands show the message as is.
    """

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class TextFormat:
    label: str  # "CSV", "JSON"
    expected: str  # what the sender should send instead, for the messages
    content: str  # what a non-empty input holds


CSV_FILE = TextFormat("CSV", "a CSV file saved as UTF-8", "a CSV file with a header row")
JSON_FILE = TextFormat("JSON", "a JSON file saved as UTF-8", "a JSON object")
JSON_BODY = TextFormat("JSON", "a JSON body encoded as UTF-8", "a JSON value")

# The first bytes of files people pick by mistake (a report, a screenshot, the
# workbook instead of its CSV export), and of text in an encoding other than UTF-8.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office document (an Excel .xls workbook is one)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xff\xfe", "UTF-16 text (Excel's 'Unicode Text')"),
    (b"\xfe\xff", "UTF-16 text"),
)
_SNIFF_BYTES = max(len(signature) for signature, _ in SIGNATURES)


def _size_text(size: int) -> str:
    """A byte count as people read it in a limit: ``1.0 MB``."""
    return f"{size / 1024 / 1024:.1f} MB"


def input_size_check(*, name: str, size: int, limit: int) -> None:
    """Refuse (413) an input of ``size`` bytes over ``limit``."""
    if size > limit:
        raise InputRefused(
            f"{name} is {_size_text(size)}; the limit is {limit // 1024 // 1024} MB.", status=413
        )


def text_check(*, name: str, chunks: Iterable[bytes], fmt: TextFormat) -> None:
    """Refuse (400) an input that is not non-empty UTF-8 text without NUL bytes.

    Reads ``chunks`` once, keeping only the current chunk, so a large file never
    sits in memory. ``name`` is how the messages call the input (``events.csv``,
    ``the file``, ``the body``); lines and bytes are numbered from 1.
    """
    # Plain UTF-8, not utf-8-sig: a byte order mark decodes to U+FEFF, which
    # keeps every byte position the decoder reports a position in the input.
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1  # the line the next chunk starts on
    column = 0  # bytes of that line before the next chunk
    head = b""  # the input's first bytes, until there are enough to recognise a format
    blank = True
    after_cr = False  # the previous chunk ended in CR (its line end may be CRLF)
    for chunk in chunks:
        if len(head) < _SNIFF_BYTES:
            head += chunk[: _SNIFF_BYTES - len(head)]
            _signature_check(name, head, fmt)
        if b"\x00" in chunk:
            line_at, _ = _position(chunk, chunk.index(b"\x00"), line, column, after_cr)
            raise InputRefused(
                f"{name} holds a NUL byte on line {line_at}; expected {fmt.label} text."
            )
        pending = len(decoder.getstate()[0])  # bytes of a character the last chunk began
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            # The character may have begun in the previous chunk (at < 0): it
            # is then on the line this chunk starts on.
            at = exc.start - pending
            line_at, before = (
                (line, column + at) if at < 0 else _position(chunk, at, line, column, after_cr)
            )
            raise InputRefused(
                f"{name} is not UTF-8 text: line {line_at}, byte {before + 1} "
                f"is 0x{exc.object[exc.start]:02X}; expected {fmt.expected}."
            ) from exc
        blank = blank and not text.replace("\ufeff", "").strip()
        line, column = _position(chunk, len(chunk), line, column, after_cr)
        after_cr = chunk.endswith(b"\r") if chunk else after_cr
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise InputRefused(
            f"{name} is not UTF-8 text: it ends inside a character on line {line}; "
            f"expected {fmt.expected}."
        ) from exc
    if blank:
        raise InputRefused(f"{name} is empty; expected {fmt.content}.")


def json_too_deep_message(name: str) -> str:
    return f"{name} nests JSON arrays or objects too deeply to be read"


def json_parse(text: str, *, name: str, parse_constant: Callable[[str], Any] | None = None) -> Any:
    """``text`` parsed as JSON, or ``InputRefused`` (400) in one line without a full
    stop: ``the body is not valid JSON: line 3, column 7: Expecting value``.

    Python's parser recurses once per nested array or object: a body such as
    ``[[[[...]]]]`` a hundred thousand levels deep raises ``RecursionError``,
    which is refused here like any other unreadable input. ``parse_constant``
    is ``json.loads``' (DRF's strict parser refuses NaN and Infinity with it).
    """
    try:
        return json.loads(text, parse_constant=parse_constant)
    except json.JSONDecodeError as exc:
        raise InputRefused(
            f"{name} is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise InputRefused(json_too_deep_message(name)) from exc
    except ValueError as exc:
        # A number of more digits than int() reads, or a constant parse_constant refused.
        raise InputRefused(f"{name} is not valid JSON: {exc}") from exc


def _signature_check(name: str, head: bytes, fmt: TextFormat) -> None:
    for signature, what in SIGNATURES:
        if head.startswith(signature):
            raise InputRefused(
                f"{name} looks like {what}, not {fmt.label} text; expected {fmt.expected}."
            )


def _position(
    chunk: bytes, at: int, line: int, column: int, after_cr: bool = False
) -> tuple[int, int]:
    """The line of ``chunk[at]`` and how many bytes of that line come before it, for
    a chunk that starts on ``line`` after ``column`` bytes of it.

    A line ends in LF, CRLF or a bare CR (old Mac files), as the CSV reader
    reads them. ``after_cr``: the previous chunk ended in CR, already counted as
    a line end, so an LF first in this chunk ends no other line.
    """
    start = 1 if after_cr and at > 0 and chunk.startswith(b"\n") else 0
    ends = (
        chunk.count(b"\n", start, at)
        + chunk.count(b"\r", start, at)
        - chunk.count(b"\r\n", start, at)
    )
    if ends == 0:
        return line, column + at - start
    last = max(chunk.rfind(b"\n", start, at), chunk.rfind(b"\r", start, at))
    return line + ends, at - last - 1
