"""Spreadsheet formula injection: the one escape every text cell of an export goes through.

A spreadsheet treats a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula
(``=HYPERLINK(...)`` can leak data or start a program), and a leading tab or carriage
return can hide such a start. OWASP's advice ("CSV Injection",
https://owasp.org/www-community/attacks/CSV_Injection) is to prefix those cells with a
single quote, which makes the spreadsheet read them as text. Numbers are written as
numbers and never pass through here, so a negative delta stays a number.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(text: str) -> str:
    """``text`` made safe for a spreadsheet cell: prefixed with ``'`` when it begins with
    one of ``FORMULA_STARTS``, unchanged otherwise."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
