"""The run-time side of the code ``compiler`` generates: ``CompiledPlan`` (the generated
function behind ``Evaluator.run``'s contract), and what generated code calls besides the
interpreter's own rules (``value_rules``, ``state_rules``): the error for a ``for_each``
over a value that is not an array, a membership update, a dedup key's text."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jmespath.exceptions import JMESPathTypeError

from ..contracts.actions import MapResult
from ..contracts.errors import ItemError
from ..contracts.store import MemoryStore, StateStore, membership_update
from ..contracts.value_types import describe_expression_error, json_type
from .interpreter import Evaluator, TraceEntry
from .plan import MembershipPlan, Plan
from .state_rules import record_aliases
from .value_rules import membership_version, outcome_values, render_template_value


def loop_error(name: str, value: Any, rule: str) -> ItemError:
    return ItemError(
        f"for_each {name!r} expected an array, got {json_type(value)}", rule=rule, code="wrong_type"
    )


def membership(
    store: StateStore,
    namespace: str,
    m: MembershipPlan,
    rule: str,
    key: Any,
    version: Any,
    add: Any,
    rm: Any,
    aliases: Any,
) -> tuple[list[str] | None, list[dict[str, Any]] | None]:
    """The members after the update, and (if the state binds ``changes``) what each did."""
    if key is None:
        return None, None
    v = membership_version(version, rule)
    changes = [(str(x), True, v) for x in (add or []) if x is not None]
    changes += [(str(x), False, v) for x in (rm or []) if x is not None]
    ns, text = f"{namespace}{m.set}", render_template_value(key)
    if m.changes is None:
        members, outcomes = store.update_membership(ns, text, changes), None
    else:
        update = membership_update(store, ns, text, changes)
        members, outcomes = update.members, outcome_values(update)
    if m.aliases is not None:
        record_aliases(store, ns, text, aliases)
    return members, outcomes


def dedup_key(value: Any) -> str:
    return render_template_value(value)


class CompiledPlan:
    """A plan compiled to Python; ``run`` has the same contract as ``Evaluator.run``.
    ``function(doc, settings, store, namespace)`` is the generated function itself, for
    loops that call it many times with a store and without tracing."""

    def __init__(self, plan: Plan, function: Any, source: str) -> None:
        self.plan = plan
        self.function: Callable[[Any, Mapping[str, Any], StateStore, str], MapResult] = function
        self._run = function
        self.source = source
        self._evaluator: Evaluator | None = None

    def run(
        self,
        doc: Any,
        settings: Mapping[str, Any],
        store: StateStore | None = None,
        *,
        namespace: str = "",
        trace: list[TraceEntry] | None = None,
    ) -> MapResult:
        if trace is not None:
            if self._evaluator is None:
                self._evaluator = Evaluator(self.plan)
            return self._evaluator.run(doc, settings, store, namespace=namespace, trace=trace)
        result: MapResult = self._run(doc, settings, store or MemoryStore(), namespace)
        return result


def field_call(call: Callable[[str, list[Any]], Any]) -> Callable[[str, str, list[Any]], Any]:
    """``call`` (jmespath's ``call_function``) for an expression computing an output field:
    a type error of the call is that field's (an ``ItemError`` naming it, as a required
    field found null is), so the failure, its log line and its dead letter say where it
    was. Other errors stay the rule's, as in the interpreter."""

    def at(field: str, name: str, args: list[Any]) -> Any:
        try:
            return call(name, args)
        except JMESPathTypeError as exc:  # an argument of a type the function refuses
            code, message = describe_expression_error(exc)
            raise ItemError(message, field=field, code=code) from None

    return at
