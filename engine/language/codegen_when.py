"""A rule's ``when`` as nested ``if`` statements, for the plan compiler.

``when: a && b && c`` is true exactly when ``a``, ``b`` and ``c`` are each true (``&&``
gives its left side when that is false, else its right side), and the interpreter
evaluates ``b`` only when ``a`` was true. So the test is emitted as one ``if`` per
operand, each nested in the one before, with the rule's body inside the last: a rule
whose first test fails costs one comparison, no value of the whole ``&&`` is built, and
what the tests computed (``data.event_name``, ``event_name(...)``) is in the memo of
the body, which uses it again instead of computing it a second time.

Any other expression (``||``, ``!``, a comparison, a function) is one ``if`` on its
value, tested by JMESPath's truth rules. A ``when`` that reads the whole evaluation
context (``@`` at the root) is left to the caller's single test, as is one nested so
deep that more indentation would approach Python's limit.

Sibling rules in a row whose ``when`` starts with the same name compared to a string
(``type == 'custom_event' && ...``, ``type == 'screen_view'``) become one ``if``/``elif``
on that name (``dispatch``): a document runs only the rules of its value, in their order,
which are the only ones whose ``when`` could be true; each rule then tests the rest of
its ``when`` only. A rule with a ``for_each`` is never in such a row (its loop's
expression runs before its ``when``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .expressions import analyse
from .jmespath_codegen import PyGen
from .plan import RulePlan

#: The indentation (in levels) beyond which operands are no longer nested: Python's
#: tokenizer allows 100, and expressions inside the body need their own room.
_MAX_LEVELS = 50


def operands(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The operands of a chain of ``&&`` (``a && b && c`` -> a, b, c), left to right."""
    if node["type"] != "and_expression":
        return [node]
    left, right = node["children"]
    return operands(left) + operands(right)


def nested_tests(
    py: PyGen,
    node: dict[str, Any],
    bindings: Mapping[str, str],
    lines: list[str],
    indent: str,
    cse: dict[Any, Any],
    *,
    head_known: bool = False,
) -> tuple[str, dict[Any, Any]] | None:
    """Emit one nested ``if`` per operand of ``node``'s ``&&`` chain into ``lines``
    (``head_known``: but the first, which the caller's ``dispatch`` tested); return the
    indentation and memo for the body, or None (nothing emitted) when the expression is
    better tested whole."""
    parts = operands(node)[1:] if head_known else operands(node)
    if len(indent) // 4 + len(parts) > _MAX_LEVELS:
        return None
    for part in parts:
        value = py.gen(part, "_scope", lines, indent, root_bindings=bindings, cse=cse)
        if not value.isidentifier() or value in ("None", "True", "False"):
            atom = py.fresh()
            lines.append(f"{indent}{atom} = {value}")
            value = atom
        lines.append(f"{indent}if {py.truth(value)}:")
        indent, cse = indent + "    ", dict(cse)
    return indent, cse


def dispatch_head(rule: RulePlan, bindings: Mapping[str, str]) -> tuple[str, str] | None:
    """``(local, text)`` when ``rule`` has no loop and its ``when`` starts with a bound
    name compared to a string (``type == 'custom_event'``, either way round)."""
    if rule.loops or rule.when is None or analyse(rule.when.ast).reads_whole_root:
        return None
    head = operands(rule.when.ast)[0]
    if head["type"] != "comparator" or head["value"] != "eq":
        return None
    a, b = head["children"]
    for name, text in ((a, b), (b, a)):
        if (
            name["type"] == "field"
            and name["value"] in bindings
            and text["type"] == "literal"
            and type(text["value"]) is str
        ):
            return bindings[name["value"]], text["value"]
    return None


Dispatch = tuple[str, dict[str, list[RulePlan]]]


def dispatch(
    children: tuple[RulePlan, ...], bindings: Mapping[str, str]
) -> list[RulePlan | Dispatch]:
    """The rules in order, each row of two or more that start by comparing the same local
    to a string as one ``(local, {text: rules in order})``."""
    heads = [dispatch_head(child, bindings) for child in children]
    out: list[RulePlan | Dispatch] = []
    i = 0
    while i < len(children):
        head, j = heads[i], i + 1
        while head is not None and j < len(children) and (heads[j] or ("",))[0] == head[0]:
            j += 1
        if head is None or j - i < 2:
            out.append(children[i])
            i += 1
            continue
        by_text: dict[str, list[RulePlan]] = {}
        for child, h in zip(children[i:j], heads[i:j], strict=True):
            assert h is not None
            by_text.setdefault(h[1], []).append(child)
        out.append((head[0], by_text))
        i = j
    return out
