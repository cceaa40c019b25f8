"""Actions checked at intake are not checked again by delivery: the intake check marks
them (``Action.checked``), and ``prepare`` trusts the mark where its own check is the one
intake made (an action without the mark is checked as before)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from mapwire import Action, PermanentDeliveryError
from mapwire.runtime.intake_check import held_back
from mapwire.runtime.registry import get_registry

CIO = {"site_id": "site", "api_key": "key-for-tests"}
MP = {"api_key": "mp-key", "api_secret": "mp-secret"}
# Passes every check but the schema's: a field no Customer.io event has.
CIO_ODD = {"identifiers": {"id": "p1"}, "name": "x", "unknown_field": 1}
# Passes every check but the schema's: a number where mParticle wants a string.
MP_ODD = {"event_name": 5, "user_identities": {"customer_id": "c1"}}


def destinations() -> Any:
    return get_registry().destinations()


def test_the_intake_check_marks_the_actions_it_passes() -> None:
    conn: Any = SimpleNamespace(name="cio", plan=SimpleNamespace(name="flow"), destination=CIO)
    good = Action("customerio", "event", {"identifiers": {"id": "p1"}, "name": "x"})
    bad = Action("customerio", "event", dict(CIO_ODD))
    kept, held = held_back(conn, {}, [good, bad], destinations())
    assert kept == [good] and good.checked
    assert len(held) == 1 and not bad.checked


def test_customerio_prepare_trusts_the_mark_and_checks_the_rest() -> None:
    cio = destinations()["customerio"]
    with pytest.raises(PermanentDeliveryError, match="unknown_field"):
        cio.prepare(Action("customerio", "event", dict(CIO_ODD)), CIO)
    trusted = Action("customerio", "event", dict(CIO_ODD), checked=True)
    assert cio.prepare(trusted, CIO).route


@pytest.mark.parametrize("oversize", ["dead_letter", "drop_field"])
def test_mparticle_checks_again_unless_its_policy_is_the_one_intake_checked(
    oversize: str,
) -> None:
    mp = destinations()["mparticle"]
    odd = Action("mparticle", "custom_event", dict(MP_ODD), checked=True)
    with pytest.raises(PermanentDeliveryError, match="event_name"):
        mp.prepare(odd, {**MP, "oversize": oversize})
    with pytest.raises(PermanentDeliveryError, match="event_name"):
        mp.prepare(Action("mparticle", "custom_event", dict(MP_ODD)), MP)
    assert mp.prepare(odd, MP).body["event"]
