"""What rules have in common, for the plan compiler: calls that siblings share, lookups
that a loop hoists. Both make the generated function do less; neither changes a result.

* Shared calls. Sibling rules often make the same call: ``empty event name`` tests
  ``event_name(data.event_name)`` and ``custom event`` then names the event with it. The
  memo (``cse``) cannot carry a result from one rule to the next, since a rule computes
  it only when its tests get that far. So a call that two or more siblings make, with the
  same names in scope, gets a local set to ``_UNSET`` before the first of them; whichever
  sibling reaches the call first computes it into that local (``Emitter._shared``), and
  the others take it from there. A call that raised leaves the local unset: the next
  sibling calls again and fails in its own rule, as it would have alone. Only calls whose
  result may be shared are candidates (``SubtreeFacts``: ``borrowed``, functions being
  pure), and only plugin functions: a builtin costs about what the test would.
* Hoisted lookups. Inside a ``for_each``, a path of fields that starts from a name bound
  outside the loop (``settings.forward_events``) has the same value for every item, so it
  is looked up once, before the loop, and the memo hands it to every item. A field lookup
  calls no function and cannot fail, so looking one up when the loop turns out to be
  empty costs a moment and nothing else. Hoisted: the paths the loop's rule evaluates for
  every item (its ``when`` and variables) and its children's ``when``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .codegen_facts import Node, SubtreeFacts
from .plan import Expr, FieldPlan, RulePlan

if TYPE_CHECKING:
    from .jmespath_codegen import PyGen

#: Node types whose operands are all evaluated against the node's own input.
_OPERANDS = frozenset(
    {
        "and_expression",
        "or_expression",
        "not_expression",
        "comparator",
        "function_expression",
        "multi_select_list",
    }
)
#: Node types whose first child alone is evaluated against the node's own input (the rest
#: against what the first produced, or against each element).
_FIRST_ONLY = frozenset(
    {"subexpression", "index_expression", "pipe", "projection", "value_projection"}
    | {"filter_projection", "flatten"}
)


def root_nodes(node: Node) -> Iterator[Node]:
    """``node`` and its sub-trees that are evaluated against the same input (the names in
    scope), not against a step's result or a projected element."""
    yield node
    kind = node["type"]
    children = [c for c in node.get("children", ()) if isinstance(c, dict)]
    if kind in _OPERANDS:
        for child in children:
            yield from root_nodes(child)
    elif kind == "multi_select_hash":
        for pair in children:
            yield from root_nodes(pair["children"][0])
    elif kind in _FIRST_ONLY and children:
        yield from root_nodes(children[0])


def shareable_calls(facts: SubtreeFacts, node: Node) -> dict[str, Node]:
    """The plugin functions' calls in ``node`` (by memo text) whose result one computation
    may serve: they depend on the input and never return a container they built. (A
    builtin such as ``type`` costs about what the test whether it ran would.)"""
    out: dict[str, Node] = {}
    for sub in root_nodes(node):
        if sub["type"] == "function_expression" and not facts.builtin(sub["value"]):
            info = facts.about(sub)
            if info.borrowed and not info.const:
                out.setdefault(info.key, sub)
    return out


def invariant_paths(facts: SubtreeFacts, node: Node, outer: Iterable[str]) -> dict[str, Node]:
    """Paths of two or more fields in ``node`` whose first field is one of the names in
    ``outer`` (``settings.forward_events``), each as a sub-tree of its own, by memo text."""
    names = frozenset(outer)
    out: dict[str, Node] = {}
    for sub in root_nodes(node):
        if sub["type"] != "subexpression":
            continue
        steps = facts.steps(sub)
        fields = 0
        while fields < len(steps) and steps[fields]["type"] == "field":
            fields += 1
        if fields < 2 or steps[0]["value"] not in names:
            continue
        path = steps[0]
        for step in steps[1:fields]:
            path = {"type": "subexpression", "children": [path, step]}
        out.setdefault(facts.about(path).key, path)
    return out


def field_exprs(fields: Iterable[FieldPlan]) -> Iterator[Expr]:
    """Every expression of ``fields`` and of the fields nested in them."""
    for fp in fields:
        if fp.expr is not None:
            yield fp.expr
        yield from (part for part in fp.template if isinstance(part, Expr))
        yield from field_exprs((*fp.first, *fp.object, *fp.merge))


def exprs_in_scope(rule: RulePlan) -> Iterator[Expr]:
    """The expressions of ``rule`` (and of its descendants) that are evaluated with the
    names in scope where the rule starts: up to its first loop, variable or state."""
    if rule.loops:
        yield rule.loops[0][1]
        return
    if rule.when is not None:
        yield rule.when
    if rule.variables or rule.state:
        return
    yield from (part for part in rule.skip or () if isinstance(part, Expr))
    yield from field_exprs(rule.fields)
    yield from rule.dedup
    yield from (f.keys for f in rule.forget)
    for child in rule.children:
        yield from exprs_in_scope(child)


def shared_calls(facts: SubtreeFacts, rules: Iterable[RulePlan]) -> dict[str, Node]:
    """The calls that two or more of ``rules`` (siblings) make with the same names in
    scope, in the order first met."""
    seen: dict[str, int] = {}
    nodes: dict[str, Node] = {}
    for rule in rules:
        mine: dict[str, Node] = {}
        for e in exprs_in_scope(rule):
            mine.update(shareable_calls(facts, e.ast))
        for key, node in mine.items():
            seen[key] = seen.get(key, 0) + 1
            nodes.setdefault(key, node)
    return {key: nodes[key] for key, n in seen.items() if n >= 2}


def bound_names(rule: RulePlan) -> set[str]:
    """Every name ``rule`` or a descendant binds: loop names, variables, state names."""
    names = {name for name, _ in rule.loops} | {v.name for v in rule.variables}
    for m in rule.state:
        names.add(m.name)
        if m.changes is not None:
            names.add(m.changes)
    for child in rule.children:
        names |= bound_names(child)
    return names


def loop_invariants(facts: SubtreeFacts, rule: RulePlan, outer: Iterable[str]) -> list[Node]:
    """The field paths to look up once before ``rule``'s loops: those its ``when``, its
    variables and its children's ``when`` read from names bound outside it (``outer``)
    that nothing inside it binds again."""
    names = set(outer) - bound_names(rule)
    exprs: list[Any] = [e for _, e in rule.loops[1:]]
    exprs += [rule.when, *field_exprs(rule.variables), *(c.when for c in rule.children)]
    found: dict[str, Node] = {}
    for e in exprs:
        if e is not None:
            for key, node in invariant_paths(facts, e.ast, names).items():
                found.setdefault(key, node)
    return list(found.values())


def share_calls(
    py: PyGen,
    rules: Iterable[RulePlan],
    bindings: Mapping[str, str],
    lines: list[str],
    indent: str,
    cse: dict[Any, Any],
) -> None:
    """Before sibling ``rules``: a local for each call two or more of them make, and the
    memo entry (in ``cse``, which the siblings copy) that makes them share it."""
    for text in shared_calls(py.facts, rules):
        py.share(text, bindings, lines, indent, cse)


def hoist_invariants(
    py: PyGen,
    rule: RulePlan,
    bindings: Mapping[str, str],
    lines: list[str],
    indent: str,
    cse: dict[Any, Any],
) -> dict[Any, Any]:
    """Inside the ``try`` (at ``indent``) that computes the sequence of ``rule``'s first
    loop: look up its ``loop_invariants`` into ``cse``; return it, the memo its items
    start from."""
    for path in loop_invariants(py.facts, rule, bindings):
        py.gen(path, "_scope", lines, indent + "    ", root_bindings=bindings, cse=cse)
    return cse
