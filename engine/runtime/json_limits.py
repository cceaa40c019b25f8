"""How deep JSON may nest: the check ``serve`` applies to request bodies and ``send`` to
each backfill line or document, so no hostile input can exhaust the stack of a later step
(the mapping, the queue's serialisation).

* ``nesting_exceeds``: the depth of ``[``/``{`` outside strings in raw JSON, found with
  byte operations and one running sum (no recursion, no per-character Python loop).
* ``value_nests_deeper``: the same question for an already parsed value (iterative).
* ``inexact_integer``: whether an integer literal lies outside what the parser keeps exactly
  (-2**63 to 2**64 - 1: orjson makes a float of anything beyond, silently), so such input is
  refused rather than changed.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

_BRACKETS_AS_PARENS = bytes.maketrans(b"[{]}", b"(())")
_RUNS = re.compile(rb"\(+|\)+")
_OPENER = ord("(")
#: Innermost levels removed by whole-body passes before the runs are summed: each pass
#: shrinks the shape, and after them every run left belongs to a structure deeper than this.
_LEVEL_PASSES = 8
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """Whether arrays/objects in ``body`` nest deeper than ``limit`` (outside strings).

    Escaped backslashes and escaped quotes are removed first; then only brackets (as
    parentheses) and quotes are kept. Two adjacent quotes can go without changing which
    brackets sit inside a string, which leaves only the strings that contain brackets to
    cut out. A few passes then delete the innermost ``()`` pairs (each pass one level,
    everywhere at once), which empties the shallow parts of a large body cheaply; the
    depth of what is left is the largest running sum over its runs of openers and closers
    (one regular-expression match per run, never a Python step per character). Unbalanced
    brackets may answer either way: the parser reports those as malformed.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # few brackets in all, strings included: cheaper than any pass below
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    shape = body.translate(_BRACKETS_AS_PARENS, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in shape:
        shape = b"".join(shape.split(b'"')[::2])
    if shape.count(b"(") <= limit:
        return False
    if b"(" * (limit + 1) in shape:  # a run of openers nests, whatever follows
        return True
    removed = 0
    while removed < min(limit, _LEVEL_PASSES):
        shorter = shape.replace(b"()", b"")
        if len(shorter) == len(shape):
            break
        shape = shorter
        removed += 1
    steps = [len(run) if run[0] == _OPENER else -len(run) for run in _RUNS.findall(shape)]
    return max(accumulate(steps), default=0) + removed > limit


def value_nests_deeper(value: Any, limit: int) -> bool:
    """Whether arrays/objects in the parsed ``value`` nest deeper than ``limit``."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


_LONG_DIGITS = re.compile(rb"-?\d{19,}")
_EXACT = range(-(2**63), 2**64)
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_TWENTY = b"0" * 20
_MINUS_NINETEEN = b"-" + b"0" * 19


def inexact_integer(text: bytes) -> bool:
    """Whether ``text`` (JSON) has an integer literal the parser would turn into a float.
    Only text with a run of digits that may be beyond that range (anywhere: in a string
    too) is parsed again to find out; a 64-bit id such as an MPID never is."""
    # -2**63 has 19 digits and 2**64 - 1 has 20: only a negative run of 19 digits or any
    # run of 20 may be beyond (found with two byte scans, never a per-character step).
    shape = text.translate(_DIGITS_AS_ZERO)
    if _TWENTY not in shape and _MINUS_NINETEEN not in shape:
        return False
    if all(int(run) in _EXACT for run in _LONG_DIGITS.findall(text)):
        return False
    found = False

    def check(literal: str) -> int:
        nonlocal found
        value = int(literal)
        found = found or value not in _EXACT
        return value

    try:
        json.loads(text, parse_int=check)
    except ValueError:
        return False  # not JSON: the parser says so
    return found
