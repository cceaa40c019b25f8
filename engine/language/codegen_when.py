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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .jmespath_codegen import PyGen

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
) -> tuple[str, dict[Any, Any]] | None:
    """Emit one nested ``if`` per operand of ``node``'s ``&&`` chain into ``lines``;
    return the indentation and memo for the body, or None (nothing emitted) when the
    expression is better tested whole."""
    parts = operands(node)
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
