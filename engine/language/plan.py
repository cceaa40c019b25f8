"""The compiled form of a mapping: a tree of rules whose every expression is parsed once.

A ``Plan`` is immutable data built by ``planner`` (with ``plan_builder``); the evaluators
in ``interpreter`` (interpreted, traceable) and ``compiler`` (generated Python, fast) run
it. Paths (``at``) point back into the spec file so runtime errors and ``explain`` can
name the rule and field.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from ..contracts.errors import Problem

Source = Literal["expr", "first", "value", "template", "object", "merge"]
IfNull = Literal["omit", "keep", "skip", "error"]


@dataclass(frozen=True)
class Expr:
    """One JMESPath expression: its text, its AST, and where it was written."""

    text: str
    ast: dict[str, Any]
    at: str
    #: Where the expression is written (the spec path) and its offset inside that scalar.
    path: tuple[str | int, ...] = field(default=(), compare=False)
    base: int = field(default=0, compare=False)


@dataclass(frozen=True)
class FieldPlan:
    """How one value is produced (``source`` + its operands) and post-processed."""

    name: str
    source: Source
    expr: Expr | None = None
    first: tuple[FieldPlan, ...] = ()
    value: Any = None
    template: tuple[str | Expr, ...] = ()
    object: tuple[FieldPlan, ...] = ()
    merge: tuple[FieldPlan, ...] = ()
    map: dict[str, Any] | None = None
    has_map_default: bool = False
    map_default: Any = None
    cast: str | None = None
    rename: dict[str, str] | None = None
    omit: frozenset[str] = frozenset()
    omit_empty: bool = False
    has_default: bool = False
    default: Any = None
    if_null: IfNull = "omit"
    skip_reason: str = ""
    at: str = ""
    path: tuple[str | int, ...] = field(default=(), compare=False)

    @property
    def is_plain(self) -> bool:
        """No post-processing at all: the source's value is the field's value."""
        return (
            self.map is None
            and self.cast is None
            and self.rename is None
            and not self.omit
            and not self.omit_empty
            and not self.has_default
        )


@dataclass(frozen=True)
class MembershipPlan:
    """A stored membership set updated, then read back, for each item. ``changes`` names
    the binding of what each change did (see ``engine.store.ChangeOutcome``), if asked;
    ``aliases`` gives other identifiers of the person, recorded so an erasure naming one
    of them finds the set (``StateStore.add_aliases``)."""

    name: str
    set: str
    key: Expr
    add: Expr | None
    remove: Expr | None
    version: Expr | None
    changes: str | None = None
    aliases: Expr | None = None


@dataclass(frozen=True)
class ForgetPlan:
    """Stored sets an action's person loses (``contracts.actions.Forget``): those of
    ``set`` under each key ``keys`` gives (a string or a list; nulls left out)."""

    set: str
    keys: Expr


@dataclass(frozen=True)
class RulePlan:
    name: str
    at: str
    loops: tuple[tuple[str, Expr], ...] = ()
    when: Expr | None = None
    variables: tuple[FieldPlan, ...] = ()
    state: tuple[MembershipPlan, ...] = ()
    dedup: tuple[Expr, ...] = ()
    forget: tuple[ForgetPlan, ...] = ()
    action: str | None = None
    fields: tuple[FieldPlan, ...] = ()
    skip: tuple[str | Expr, ...] | None = None
    children: tuple[RulePlan, ...] = ()
    path: tuple[str | int, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class SettingDecl:
    name: str
    type: str
    default: Any
    description: str = ""
    enum: tuple[Any, ...] | None = None
    items: dict[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    """A whole compiled mapping."""

    name: str
    description: str
    sources: tuple[str, ...]
    destination: str
    file: str
    settings: dict[str, SettingDecl]
    variables: tuple[FieldPlan, ...]
    rules: tuple[RulePlan, ...]
    functions: dict[str, Any] = field(default_factory=dict, compare=False)
    #: What the type checks found that may (not must) go wrong; ``Problem.severity`` is
    #: "warning" for each. Errors never reach a Plan: they raise ``SpecError``.
    warnings: tuple[Problem, ...] = field(default=(), compare=False)

    def all_rules(self) -> Iterator[RulePlan]:
        """Every rule, nested ones included, in file order."""
        todo = list(reversed(self.rules))
        while todo:
            rule = todo.pop()
            yield rule
            todo.extend(reversed(rule.children))
