"""A rule's ``forget`` and a state's ``aliases``: the erasure side of stored state.

The evaluators stay pure: ``forget`` only puts the state to remove on the action
(``Action.forget``); ``mapwire test`` and the runtime remove it. Both evaluators give the
same actions and record the same aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mapwire import Forget
from mapwire.contracts.actions import MapResult
from mapwire.contracts.errors import SpecError
from mapwire.contracts.store import MemoryStore
from mapwire.language.compiler import compile_plan
from mapwire.language.interpreter import Evaluator

#: Memberships kept by an id an erasure never carries, with the identities it does carry
#: recorded as aliases; an `erase` document names the person by those.
BODY = """
rules:
  - name: memberships
    when: "!(doc.erase)"
    for_each: {p: doc.profiles}
    state:
      member_of:
        set: groups
        key: p.id
        add: p.add
        aliases: "[p.customer, p.email]"
    action: note
    fields: {text: "join(',', member_of)"}
  - name: erase
    when: doc.erase
    action: note
    forget:
      - {set: groups, keys: "[doc.customer, doc.email]"}
      - {set: unused, keys: doc.nothing}
    fields: {text: "'erased'"}
"""


@pytest.fixture(params=["interpreted", "compiled"])
def runner(request: pytest.FixtureRequest, make_plan: Callable[..., Any]) -> Any:
    plan = make_plan(BODY)
    return Evaluator(plan) if request.param == "interpreted" else compile_plan(plan)


def _profile(pid: str, customer: str | None, email: str | None, *add: str) -> dict[str, Any]:
    return {"id": pid, "customer": customer, "email": email, "add": list(add)}


def _apply(result: MapResult, store: MemoryStore) -> None:
    """What the runtime does before queueing (here with no connection namespace)."""
    for forget in (f for a in result.actions for f in a.forget):
        store.forget(forget.set, forget.keys)


def test_an_erasure_carries_its_forget_and_finds_the_set_by_an_alias(runner: Any) -> None:
    store = MemoryStore()
    doc = {"profiles": [_profile("m1", "c1", "Jane@X.io", "a"), _profile("m2", "c2", None, "b")]}
    assert [a.payload["text"] for a in runner.run(doc, {}, store).actions] == ["a", "b"]
    erasure = runner.run({"erase": True, "email": "Jane@X.io"}, {}, store)
    (action,) = erasure.actions
    assert action.forget == (Forget("groups", ("Jane@X.io",)),), "null keys are left out"
    _apply(erasure, store)
    again = {"profiles": [_profile("m1", "c1", "Jane@X.io", "c"), _profile("m2", "c2", None)]}
    texts = [a.payload["text"] for a in runner.run(again, {}, store).actions]
    assert texts == ["c", "b"], "m1 starts afresh; m2 keeps its set"


def test_forget_keys_may_be_one_string_and_are_written_as_state_keys(
    make_plan: Callable[..., Any],
) -> None:
    plan = make_plan(
        """
rules:
  - action: note
    forget: {set: groups, keys: doc.id}
    fields: {text: "'x'"}
"""
    )
    for runner in (Evaluator(plan), compile_plan(plan)):
        assert runner.run({"id": 42}, {}).actions[0].forget == (Forget("groups", ("42",)),)
        assert runner.run({"id": "p"}, {}).actions[0].forget == (Forget("groups", ("p",)),)
        assert runner.run({}, {}).actions[0].forget == (), "no key: nothing to forget"


def test_forget_needs_an_action_in_its_rule(make_plan: Callable[..., Any]) -> None:
    body = """
rules:
  - skip: "nothing"
    forget: {set: groups, keys: doc.id}
"""
    with pytest.raises(SpecError, match="E210") as caught:
        make_plan(body)
    assert "`forget` needs an `action`" in str(caught.value)


def test_forget_and_aliases_names_are_checked(make_plan: Callable[..., Any]) -> None:
    with pytest.raises(SpecError, match="unknown name 'customr'"):
        make_plan(BODY.replace("[doc.customer,", "[customr,"))
    with pytest.raises(SpecError, match="unknown name 'mail'"):
        make_plan(BODY.replace("[p.customer, p.email]", "[p.customer, mail]"))
    with pytest.raises(SpecError, match="keys"):
        make_plan(BODY.replace("{set: unused, keys: doc.nothing}", "{set: unused}"))
