"""Regular expressions for JSON schema `pattern`s: numeric ranges spelled as digits.

A schema can bound a number but not a number written as a string ("12.5"), nor the year of a
timestamp; these builders write such bounds as patterns that ECMA-262, Python `re` and Rust's
`regex` all read the same way (plain classes, no look-around).
"""

from __future__ import annotations


def _same_width(low: str, high: str) -> list[str]:
    """Alternatives matching every digit string from `low` to `high` (equal lengths, low <= high)."""
    if low == high:
        return [low]
    width = len(low)
    if low == "0" * width and high == "9" * width:
        return ["[0-9]" if width == 1 else f"[0-9]{{{width}}}"]
    if width == 1:
        return [f"[{low}-{high}]"]
    if low[0] == high[0]:
        return [low[0] + _group(_same_width(low[1:], high[1:]))]
    rest = width - 1
    parts: list[str] = []
    first, last = int(low[0]), int(high[0])
    if low[1:] != "0" * rest:  # a partial first block: low..l999
        parts.append(low[0] + _group(_same_width(low[1:], "9" * rest)))
        first += 1
    tail = high[1:] != "9" * rest  # a partial last block: h000..high
    if tail:
        last -= 1
    if first <= last:  # whole blocks: [first-last] then any digits
        digit = str(first) if first == last else f"[{first}-{last}]"
        parts.append(digit + ("[0-9]" if rest == 1 else f"[0-9]{{{rest}}}"))
    if tail:
        parts.append(high[0] + _group(_same_width("0" * rest, high[1:])))
    return parts


def _group(alternatives: list[str]) -> str:
    return alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"


def integer_range(low: int, high: int) -> str:
    """A group matching the integers low..high written without leading zeros (0 <= low <= high)."""
    alternatives: list[str] = []
    for width in range(len(str(low)), len(str(high)) + 1):
        start = max(low, 0 if width == 1 else 10 ** (width - 1))
        end = min(high, 10**width - 1)
        if start <= end:
            alternatives += _same_width(str(start), str(end))
    return f"(?:{'|'.join(alternatives)})"


def padded_range(low: int, high: int, width: int) -> str:
    """A group matching the integers low..high written with exactly `width` digits (years: 0001..9999)."""
    return f"(?:{'|'.join(_same_width(str(low).zfill(width), str(high).zfill(width)))})"
