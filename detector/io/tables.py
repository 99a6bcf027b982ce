"""Aligned text tables for the terminal: the scene table of a run and the events' quotable table."""

from __future__ import annotations


def format_table(rows: list[tuple[str, ...]], last_free: bool = False) -> str:
    """Rows of strings (the first is the header) as aligned text columns under a rule.

    With ``last_free`` the last column is not padded (long free text, such as errors).
    """
    n = len(rows[0]) - (1 if last_free else 0)
    widths = [max(len(r[i]) for r in rows) for i in range(n)]
    text = ["  ".join([r[i].ljust(widths[i]) for i in range(n)] + list(r[n:])).rstrip() for r in rows]
    text.insert(1, "-" * len(text[0]))
    return "\n".join(text)
