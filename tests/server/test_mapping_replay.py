"""Mapping failures through the shared intake path (``Pipeline.map_each`` and
``keep_failures``, used by ``send`` and by serve's group committer) and their replay."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import events_batch, sink_flows, write_config

from mapwire.contracts.queue import MAPPING
from mapwire.runtime.config import load_config
from mapwire.runtime.process import Runtime
from mapwire.runtime.replay import replay
from mapwire.server.committer import GroupCommitter, Part

EVENTS = "mparticle.events_api_batch"


@pytest.fixture
def runtime(tmp_path: Path, secrets: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.chdir(tmp_path)
    running = Runtime(load_config(write_config(tmp_path, sink_flows()[:1])))
    yield running
    running.close()


def two_nameless_events() -> dict[str, Any]:
    """Two custom events whose name is an object: the flow cannot name them (a blank or
    missing name would only be skipped and counted)."""
    batch = events_batch("p1", 4)
    for i in (1, 3):
        batch["events"][i]["data"]["event_name"] = {"not": "a name"}
    return batch


def _naming(real: Any) -> Any:
    """The flow's runner, fixed: a custom event whose name is not a string is "unnamed"."""

    def fixed(doc: Any, *args: Any, **kwargs: Any) -> Any:
        doc = copy.deepcopy(doc)
        for event in doc["events"]:
            if not isinstance(event["data"].get("event_name"), str):
                event["data"]["event_name"] = "unnamed"
        return real(doc, *args, **kwargs)

    return fixed


def test_the_committer_keeps_and_counts_what_fails_to_map(runtime: Runtime) -> None:
    committer = GroupCommitter(runtime.pipeline)

    async def commit() -> Any:
        future = committer.submit([Part(EVENTS, [two_nameless_events()])])
        committer.start()
        try:
            return await future
        finally:
            await asyncio.to_thread(committer.close)

    report = asyncio.run(commit())
    assert report.queued == 3  # the identify and two events
    assert len(report.errors) == 2
    letters = runtime.queue.dead_letters(kind=MAPPING)
    assert sorted(d.item for d in letters) == ["event[1]", "event[3]"]
    assert {(d.rule, d.field, d.code) for d in letters} == {("custom event", "", "wrong_type")}
    text = runtime.metrics.render().decode()
    assert 'mapwire_mapping_failures_total{connection="events",rule="custom event"} 2.0' in text


def test_replay_maps_a_document_once_and_appends_to_the_history(runtime: Runtime) -> None:
    report = runtime.pipeline.submit(EVENTS, [two_nameless_events()])
    assert report.queued == 3
    first = runtime.queue.dead_letters(kind=MAPPING)
    again = replay(runtime.pipeline, first)
    assert (again.replayed, again.queued, len(again.failed_again)) == (2, 0, 2)
    second = runtime.queue.dead_letters(kind=MAPPING)
    assert len(second) == 2 and {d.attempts for d in second} == {2}
    assert runtime.queue.depth("events") == 3, "nothing queued while every item still fails"

    runtime.pipeline._runners["events"] = _naming(runtime.pipeline._runners["events"])
    done = replay(runtime.pipeline, second)
    assert (done.replayed, done.queued, done.failed_again, done.refused) == (2, 4, [], [])
    assert runtime.queue.dead_letters() == []
    assert runtime.queue.depth("events") == 7, "the rule's four events, once"


def test_a_document_the_mapping_failed_on_whole_is_replayed_whole(runtime: Runtime) -> None:
    """An ``unprocessable`` dead letter (a bug the document exposed) had nothing queued:
    once the bug is gone, replay queues all of its actions, once."""
    real = runtime.pipeline._runners["events"]

    def buggy(doc: Any, *args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug")

    runtime.pipeline._runners["events"] = buggy
    report = runtime.pipeline.submit(EVENTS, [events_batch("u", 2)])
    assert report.queued == 0
    [letter] = runtime.queue.dead_letters(kind=MAPPING)
    assert (letter.code, letter.rule) == ("unprocessable", "")
    still = replay(runtime.pipeline, [letter])
    assert (still.replayed, still.queued, len(still.failed_again)) == (1, 0, 1)
    [again] = runtime.queue.dead_letters(kind=MAPPING)
    assert again.attempts == 2

    runtime.pipeline._runners["events"] = real
    done = replay(runtime.pipeline, [again])
    assert (done.replayed, done.queued, done.failed_again) == (1, 3, [])
    assert runtime.queue.dead_letters() == []
    assert runtime.queue.depth("events") == 3  # the identify and both events


def test_a_replay_that_would_queue_nothing_of_a_fixed_item_keeps_the_letters(
    runtime: Runtime,
) -> None:
    """Fixed, but its rule renamed (its actions now come from another rule name), or the
    connection running another mapping: the letters are kept and reported, never purged
    with nothing queued."""
    runtime.pipeline.submit(EVENTS, [two_nameless_events()])
    letters = runtime.queue.dead_letters(kind=MAPPING)
    named = _naming(runtime.pipeline._runners["events"])

    def fixed_and_renamed(doc: Any, *args: Any, **kwargs: Any) -> Any:
        result = named(doc, *args, **kwargs)
        for action in result.actions:
            action.rule = action.rule.replace("custom event", "renamed event")
        return result

    runtime.pipeline._runners["events"] = fixed_and_renamed
    kept = replay(runtime.pipeline, letters)
    assert (kept.replayed, kept.queued, len(kept.refused)) == (0, 0, 2)
    assert "no rule 'custom event' any more" in kept.refused[0]
    assert len(runtime.queue.dead_letters(kind=MAPPING)) == 2

    for letter in letters:
        letter.mapping = "another-flow"
    other = replay(runtime.pipeline, letters)
    assert (other.replayed, len(other.refused)) == (0, 2)
    assert "now runs mapping" in other.refused[0]
    assert len(runtime.queue.dead_letters(kind=MAPPING)) == 2


def _refused_events(real: Any, refused: set[int]) -> Any:
    """The flow's runner, with the custom events at ``refused`` given a payload Customer.io
    refuses (a timestamp that is no timestamp): held back at intake, ``undeliverable``."""

    def runner(doc: Any, *args: Any, **kwargs: Any) -> Any:
        result = real(doc, *args, **kwargs)
        events = [a for a in result.actions if a.rule == "custom event"]
        for i in refused:
            events[i].payload["timestamp"] = "not a time"
        return result

    return runner


def test_held_back_actions_of_one_rule_are_replayed_one_by_one(runtime: Runtime) -> None:
    """Two actions of one rule refused by their destination at intake are two dead letters
    with no item: a replay that fixes one of them queues it (with the rule's other actions,
    as any replay of a rule does: the vendor's dedup by event id absorbs them) and keeps
    the other, rather than taking the two for one and dropping the fixed one."""
    real = runtime.pipeline._runners["events"]
    runtime.pipeline._runners["events"] = _refused_events(real, {1, 3})
    report = runtime.pipeline.submit(EVENTS, [events_batch("p1", 4)])
    assert report.queued == 3
    letters = runtime.queue.dead_letters(kind=MAPPING)
    assert sorted((d.item, d.code) for d in letters) == [
        ("action[1]", "undeliverable"),
        ("action[3]", "undeliverable"),
    ], "each held action has its place among its rule's actions as its item"

    runtime.pipeline._runners["events"] = _refused_events(real, {3})
    done = replay(runtime.pipeline, letters)
    assert (done.replayed, done.queued, len(done.failed_again)) == (2, 3, 1)
    [kept] = runtime.queue.dead_letters(kind=MAPPING)
    assert (kept.code, kept.attempts) == ("undeliverable", 2)
    queued = [e.action.payload.get("event_id") for e in runtime.queue.claim("events", 100, 60)]
    assert queued.count("e-p1-1") == 1, "the fixed event is queued"
    assert "e-p1-3" not in queued

    runtime.pipeline._runners["events"] = real
    last = replay(runtime.pipeline, [kept])
    assert (last.replayed, last.queued, last.failed_again) == (1, 4, [])
    assert runtime.queue.dead_letters() == []


def test_letters_of_a_document_taken_twice_replay_as_one(runtime: Runtime) -> None:
    """A request retried after its answer was lost leaves its dead letters twice: a
    replay that fixes nothing keeps one per item and queues nothing; with a held action
    among them it queues the rule's actions again (a held letter's place names no action
    for sure: the vendors' dedup by event id absorbs the repeat, nothing is lost)."""
    batch = two_nameless_events()
    batch["events"][3]["data"]["event_name"] = "named"  # only event[1] fails to map
    for _ in range(2):
        runtime.pipeline.submit(EVENTS, [batch])
    letters = runtime.queue.dead_letters(kind=MAPPING)
    assert [d.item for d in letters] == ["event[1]", "event[1]"]
    depth = runtime.queue.depth("events")
    done = replay(runtime.pipeline, letters)
    assert (done.replayed, done.queued, len(done.failed_again)) == (2, 0, 1)
    assert runtime.queue.depth("events") == depth
    [kept] = runtime.queue.dead_letters(kind=MAPPING)

    real = runtime.pipeline._runners["events"]
    runtime.pipeline._runners["events"] = _refused_events(real, {1})  # one held back too
    for _ in range(2):
        runtime.pipeline.submit(EVENTS, [events_batch("p2", 3)])
    held = [d for d in runtime.queue.dead_letters(kind=MAPPING) if d.id != kept.id]
    assert [d.item for d in held] == ["action[1]", "action[1]"]
    done = replay(runtime.pipeline, held)
    assert (done.replayed, len(done.failed_again)) == (2, 1)
    assert sorted(d.item for d in runtime.queue.dead_letters(kind=MAPPING)) == [
        "action[1]",
        "event[1]",
    ]


def test_held_back_letters_from_before_their_item_replay_one_for_one(runtime: Runtime) -> None:
    """Letters kept before held actions had an item (item "") match the new failures of
    their rule one for one: fixing one of two is a fix, and the other is kept."""
    real = runtime.pipeline._runners["events"]
    runtime.pipeline._runners["events"] = _refused_events(real, {1, 3})
    runtime.pipeline.submit(EVENTS, [events_batch("p1", 4)])
    letters = runtime.queue.dead_letters(kind=MAPPING)
    for letter in letters:
        letter.item = ""
    runtime.pipeline._runners["events"] = _refused_events(real, {3})
    done = replay(runtime.pipeline, letters)
    assert (done.replayed, done.queued, len(done.failed_again)) == (2, 3, 1)
    [kept] = runtime.queue.dead_letters(kind=MAPPING)
    assert (kept.item, kept.attempts) == ("action[3]", 2)


def _refuse_named(real: Any, name: str) -> Any:
    """The flow's runner, with the custom event called ``name`` refused by Customer.io."""

    def runner(doc: Any, *args: Any, **kwargs: Any) -> Any:
        result = real(doc, *args, **kwargs)
        for action in result.actions:
            if action.rule == "custom event" and action.payload.get("name") == name:
                action.payload["timestamp"] = "not a time"
        return result

    return runner


def test_a_held_action_whose_place_moved_is_kept_with_its_history(runtime: Runtime) -> None:
    """event[1] fails to map and event[3] is held back as the rule's action[2]; a fix of
    the mapping alone makes event[1] map, so the still refused event is action[3] now:
    it is the same letter failing again, never dropped."""
    batch = events_batch("p1", 4)
    batch["events"][1]["data"]["event_name"] = {"not": "a name"}
    batch["events"][3]["data"]["event_name"] = "refuse-me"
    real = runtime.pipeline._runners["events"]
    runtime.pipeline._runners["events"] = _refuse_named(real, "refuse-me")
    runtime.pipeline.submit(EVENTS, [batch])
    letters = runtime.queue.dead_letters(kind=MAPPING)
    assert sorted(d.item for d in letters) == ["action[2]", "event[1]"]

    runtime.pipeline._runners["events"] = _refuse_named(_naming(real), "refuse-me")
    done = replay(runtime.pipeline, letters)
    assert (done.replayed, len(done.failed_again)) == (2, 1)
    [kept] = runtime.queue.dead_letters(kind=MAPPING)
    assert (kept.item, kept.code, kept.attempts) == ("action[3]", "undeliverable", 2)
    queued = [e.action.payload.get("event_id") for e in runtime.queue.claim("events", 100, 60)]
    assert "e-p1-1" in queued, "the fixed event is queued"


def _loopless_rule_fails(real: Any) -> Any:
    """The flow's runner with the rule of its first action (no loop) failing: item ""."""
    from mapwire.contracts.errors import ItemError

    def runner(doc: Any, *args: Any, **kwargs: Any) -> Any:
        result = real(doc, *args, **kwargs)
        rule = result.actions[0].rule
        result.actions[:] = [a for a in result.actions if a.rule != rule]
        result.errors.append(ItemError("is null", rule=rule, field="f", code="required_null"))
        return result

    return runner


def test_item_less_letters_of_a_document_taken_twice_replay_as_one(runtime: Runtime) -> None:
    real = runtime.pipeline._runners["events"]
    runtime.pipeline._runners["events"] = _loopless_rule_fails(real)
    for _ in range(2):  # a request retried after its answer was lost
        runtime.pipeline.submit(EVENTS, [events_batch("p1", 2)])
    letters = runtime.queue.dead_letters(kind=MAPPING)
    assert [d.item for d in letters] == ["", ""]
    depth = runtime.queue.depth("events")
    done = replay(runtime.pipeline, letters)  # nothing is fixed
    assert (done.replayed, done.queued, len(done.failed_again), done.refused) == (2, 0, 1, [])
    assert runtime.queue.depth("events") == depth


def _first_event_held(runtime: Runtime, events: int) -> tuple[Any, Any]:
    """A batch of ``events`` whose first one is held back by its destination: the flow's
    own runner, and the dead letter (item ``action[0]``)."""
    batch = events_batch("p1", events)
    batch["events"][0]["data"]["event_name"] = "refuse-me"
    real = runtime.pipeline._runners["events"]
    runtime.pipeline._runners["events"] = _refuse_named(real, "refuse-me")
    runtime.pipeline.submit(EVENTS, [batch])
    [letter] = runtime.queue.dead_letters(kind=MAPPING)
    assert letter.item == "action[0]"
    return real, letter


def test_a_fixed_held_action_is_queued_when_another_of_its_rule_is_held_instead(
    runtime: Runtime,
) -> None:
    """event[0] held back (action[0]); the new mapping lets it through but holds event[2]:
    event[0] is queued, and event[2]'s refusal is kept, never taken for event[0]'s."""
    real, letter = _first_event_held(runtime, 4)
    claimed = runtime.queue.claim("events", 100, 60)
    assert "e-p1-0" not in [e.action.payload.get("event_id") for e in claimed]
    runtime.queue.ack([e.id for e in claimed])  # delivered

    runtime.pipeline._runners["events"] = _refuse_named(real, "Event_2")
    done = replay(runtime.pipeline, [letter])
    after = [e.action.payload.get("event_id") for e in runtime.queue.claim("events", 100, 60)]
    assert "e-p1-0" in after, "the fixed event is queued"
    [kept] = runtime.queue.dead_letters(kind=MAPPING)
    assert (kept.code, kept.item) == ("undeliverable", "action[2]")
    assert done.replayed == 1


def test_a_held_item_that_now_fails_to_map_is_kept(runtime: Runtime) -> None:
    """event[0] was held back (action[0]); after a mapping edit it fails to map instead
    (event[0]): its failure matches no letter but is kept, never dropped with the letter."""
    real, letter = _first_event_held(runtime, 3)

    def name_is_an_object(doc: Any, *args: Any, **kwargs: Any) -> Any:
        doc = copy.deepcopy(doc)
        doc["events"][0]["data"]["event_name"] = {"not": "a name"}
        return real(doc, *args, **kwargs)

    runtime.pipeline._runners["events"] = name_is_an_object
    done = replay(runtime.pipeline, [letter])
    assert (done.replayed, len(done.failed_again)) == (1, 1)
    [kept] = runtime.queue.dead_letters(kind=MAPPING)
    assert (kept.item, kept.code, kept.attempts) == ("event[0]", "wrong_type", 2)


def test_a_failure_matching_no_letter_takes_the_history_of_a_letter_of_its_kind() -> None:
    from mapwire import Action
    from mapwire.contracts.queue import DeadLetter, FailedAttempt, MappingFailure
    from mapwire.runtime.replay import _failed_again

    def letter(i: int, item: str, code: str, why: str) -> DeadLetter:
        history = [FailedAttempt(1.0, why, 1)]
        action = Action("customerio", "event", {})
        return DeadLetter(
            i, "c", action, why, 1, 0.0, 1.0, kind=MAPPING, source={}, rule="R", code=code,
            item=item, history=history,
        )  # fmt: skip

    def failure(item: str, code: str) -> MappingFailure:
        return MappingFailure("c", "m", "R", "", code, "now", {}, item=item)

    group = [letter(1, "action[1]", "undeliverable", "held"), letter(2, "events[0]", "x", "map")]
    again, fixed = _failed_again(
        group,
        [failure("events[3]", "wrong_type"), failure("action[2]", "undeliverable")],
        "R",
        False,
    )
    assert fixed
    assert {f.item: [h.reason for h in f.history] for f in again} == {
        "events[3]": ["map"],
        "action[2]": ["held"],
    }
