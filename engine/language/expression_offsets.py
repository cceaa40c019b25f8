"""Where each token-bearing node of a JMESPath AST starts in the expression's text.

jmespath's AST carries no positions. ``token_offsets`` pairs the nodes that stand for one
token (fields, function names, multi-select keys, literals) with the lexer's tokens of
those kinds, both in source order, so a finding can point at its token.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jmespath.lexer import Lexer

_TOKEN_NODES = frozenset({"field", "function_expression", "key_val_pair", "literal"})
_TOKEN_KINDS = frozenset({"unquoted_identifier", "quoted_identifier", "literal"})


def source_order(node: Any) -> Iterator[dict[str, Any]]:
    """The AST's token-bearing nodes in the order their tokens appear in the text."""
    if not isinstance(node, dict):
        return
    if node.get("type") in _TOKEN_NODES:
        yield node
    children = node.get("children", [])
    if node.get("type") == "filter_projection" and len(children) == 3:
        children = [children[0], children[2], children[1]]
    for child in children:
        yield from source_order(child)


def token_offsets(text: str, ast: dict[str, Any]) -> dict[int, int]:
    """``id(node) -> offset`` for every field, function, key and literal node."""
    try:
        tokens = [t for t in Lexer().tokenize(text) if t["type"] in _TOKEN_KINDS]
    except Exception:
        return {}
    nodes = list(source_order(ast))
    if len(nodes) != len(tokens):
        return {}
    return {id(n): int(t["start"]) for n, t in zip(nodes, tokens, strict=True)}
