"""What the cursor is on in a mapping file, read from the text around it (the YAML may be
half typed): the chain of keys above the line, the key or value under the cursor, and,
inside an expression, the path chain that ends at the cursor (``doc.events[*].da``).

The key chain comes from indentation: each less indented ``key:`` line above is a parent,
each less indented ``- `` a list item (written ``-``). Flow collections (``{a: b}``) are
read as plain values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY = re.compile(r"""(?P<key>"[^"]*"|'[^']*'|[^\s:#'"{}\[\],][^:#{}\[\],]*?)\s*:(?=\s|$)""")
_NAME_CHARS = re.compile(r"[A-Za-z0-9_$]")

#: Keys whose string values (at any depth below them) are JMESPath expressions.
EXPRESSION_SECTIONS = frozenset({"fields", "variables", "when", "for_each", "dedup_key", "state"})
#: Keys below those sections whose values are not expressions.
PLAIN_KEYS = frozenset(
    {
        "name",
        "description",
        "action",
        "cast",
        "if_null",
        "skip_reason",
        "value",
        "map",
        "map_default",
        "rename",
        "omit",
        "omit_empty",
        "default",
        "required",
        "set",
        "changes",
    }
)
#: Keys whose own keys are names the mapping chooses (fields, variables, loop names).
NAMES_BELOW = frozenset({"fields", "object", "variables", "for_each"})
#: Keys whose values are templates: expressions inside ``{...}``.
TEMPLATE_KEYS = frozenset({"template", "skip"})


@dataclass(frozen=True)
class Parent:
    """One key (or ``-`` list item) above the cursor: its name, line and indentation."""

    key: str
    line: int
    indent: int


@dataclass(frozen=True)
class Cursor:
    """Where the cursor is: the parents above it, the key written on its line (if any),
    whether it sits on that key (else on its value), and the line's text."""

    parents: tuple[Parent, ...]
    key: str | None
    on_key: bool
    line_text: str
    char: int

    @property
    def path(self) -> tuple[str, ...]:
        """Parent keys, then the line's own key when the cursor is on its value."""
        keys = tuple(p.key for p in self.parents)
        return keys if self.on_key or self.key is None else (*keys, self.key)

    def in_expression(self) -> bool:
        """Whether the cursor is inside a JMESPath expression (or a template's ``{...}``)."""
        if self.on_key:
            return False
        path = self.path
        if path and path[-1] in TEMPLATE_KEYS:
            before = self.line_text[: self.char]
            return before.rfind("{") > before.rfind("}")
        inner = [k for k in path if k != "-"]
        # A key right below `fields:`, `object:`, `variables:` or `for_each:` is a name
        # (a field called `name` is still an expression); the others are spec keys.
        spec_keys = [k for i, k in enumerate(inner) if i == 0 or inner[i - 1] not in NAMES_BELOW]
        if any(k in PLAIN_KEYS for k in spec_keys):
            return False
        return any(k in EXPRESSION_SECTIONS for k in spec_keys)


def _unquote(key: str) -> str:
    return key[1:-1] if key[:1] in "\"'" and key[-1:] == key[:1] else key


def _split(line: str) -> tuple[int, int, str]:
    """(indentation, indentation of the content after any ``- `` markers, that content)."""
    stripped = line.lstrip(" ")
    indent = len(line) - len(stripped)
    content_at = indent
    while stripped.startswith("- ") or stripped == "-":
        rest = stripped[1:].lstrip(" ")
        content_at += len(stripped) - len(rest)
        stripped = rest
    return indent, content_at, stripped


def locate(text: str, line: int, char: int) -> Cursor:
    """The cursor at 0-based ``line``/``char`` of ``text``."""
    lines = text.split("\n")
    current = lines[line] if line < len(lines) else ""
    indent, content_at, content = _split(current)
    match = _KEY.match(content)
    key = _unquote(match.group("key")) if match else None
    blank = not content.strip()
    want = min(char, content_at) if blank else content_at
    parents = _parents(lines, line, want)
    if content_at > indent and char > indent:  # this line opens a list item
        parents.append(Parent("-", line, indent))
    if match:
        on_key = char <= content_at + match.end("key")
    elif blank:
        on_key = True
    else:  # a bare word: a key being typed, or a value continued from the line above
        on_key = not parents or not _has_inline_value(lines[parents[-1].line], parents[-1])
    return Cursor(tuple(parents), key, on_key, current, char)


def _has_inline_value(raw: str, parent: Parent) -> bool:
    if parent.key == "-":
        return False
    _, _, body = _split(raw)
    found = _KEY.match(body)
    rest = body[found.end() :].split(" #")[0].strip() if found else ""
    return bool(rest)


def _parents(lines: list[str], line: int, want: int) -> list[Parent]:
    """The keys and list items above ``line`` that enclose column ``want``, outermost first."""
    parents: list[Parent] = []
    for k in range(line - 1, -1, -1):
        if want <= 0:
            break
        raw = lines[k]
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        ind, at, body = _split(raw)
        found = _KEY.match(body)
        if at < want and found:
            parents.append(Parent(_unquote(found.group("key")), k, at))
            want = at
        if at > ind and ind < want:
            parents.append(Parent("-", k, ind))
            want = ind
    parents.reverse()
    return parents


def field_names(keys: tuple[str, ...]) -> list[str] | None:
    """The destination field a key chain is inside: ``(rules, -, fields)`` -> ``[]`` (the
    payload itself), ``(..., fields, identifiers, object)`` -> ``["identifiers"]``; None
    when the chain is not at the keys of the payload or of an ``object:`` field."""
    if "fields" not in keys:
        return None
    rest = list(keys[len(keys) - keys[::-1].index("fields") :])
    if len(rest) % 2 or any(k != "object" for k in rest[1::2]):
        return None
    return rest[0::2]


def chain_before(text: str, end: int) -> str:
    """The path chain ending at ``end`` in ``text``: names, dots and bracketed steps
    (``doc.events[*].data.na``), scanning back over balanced brackets."""
    i = end
    depth = 0
    while i > 0:
        ch = text[i - 1]
        if ch == "]":
            depth += 1
        elif ch == "[":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and not (_NAME_CHARS.match(ch) or ch == "."):
            break
        i -= 1
    return text[i:end]


def word_end(text: str, start: int) -> int:
    """The end of the name that ``start`` is in (or just after)."""
    i = start
    while i < len(text) and _NAME_CHARS.match(text[i]):
        i += 1
    return i


def sibling_value(text: str, item: Parent, key: str) -> str | None:
    """The plain value of ``key:`` written directly in the list item ``item`` (e.g. the
    ``action:`` of the rule whose ``fields:`` hold the cursor)."""
    lines = text.split("\n")
    inner: int | None = None  # the indentation of the item's own keys
    for k in range(item.line, len(lines)):
        raw = lines[k]
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        ind, at, body = _split(raw)
        if k == item.line:
            inner = at
        elif ind <= item.indent:
            return None  # the next item, or the end of the list
        elif not ind == at == inner:
            continue  # inside one of the item's values
        found = _KEY.match(body)
        if found and _unquote(found.group("key")) == key:
            value = body[found.end() :].split(" #")[0].strip()
            return _unquote(value) or None
    return None
