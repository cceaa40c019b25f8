"""How deep JSON may nest: the check ``serve`` applies to request bodies and ``send`` to
each backfill line or document, so no hostile input can exhaust the stack of a later step
(the mapping, the queue's serialisation).

* ``nesting_exceeds``: the depth of ``[``/``{`` outside strings in raw JSON, found with a
  few passes of byte operations (no recursion, no per-character Python loop).
* ``value_nests_deeper``: the same question for an already parsed value (iterative).
"""

from __future__ import annotations

from typing import Any

_BRACKETS_AS_PARENS = bytes.maketrans(b"[{]}", b"(())")
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """Whether arrays/objects in ``body`` nest deeper than ``limit`` (outside strings).

    Escaped backslashes and escaped quotes are removed first; then only brackets (as
    parentheses) and quotes are kept. Two adjacent quotes can go without changing which
    brackets sit inside a string, which leaves only the strings that contain brackets to
    cut out. Each pass then deletes the innermost ``()`` pairs, so the number of passes
    that empty the shape is the depth. Unbalanced brackets answer False: the parser
    reports those as malformed.
    """
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    shape = body.translate(_BRACKETS_AS_PARENS, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in shape:
        shape = b"".join(shape.split(b'"')[::2])
    if shape.count(b"(") <= limit:
        return False
    if b"(" * (limit + 1) in shape:  # a run of openers nests, whatever follows
        return True
    for _ in range(limit):
        shorter = shape.replace(b"()", b"")
        if not shorter or len(shorter) == len(shape):
            return False
        shape = shorter
    return b"()" in shape


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
