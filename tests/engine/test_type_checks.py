"""The static type checks find typos planted in copies of the shipped mappings.

Each case copies a shipped mapping, replaces one exact snippet (which must occur once),
compiles it with the installed plugins (real source schemas, real destinations) and
expects exactly one problem with the given code at the line:col of the planted text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mapwire.contracts.errors import Problem, SpecError
from mapwire.runtime.mapping_files import compile_with_plugins

SHIPPED = Path(__file__).parents[2] / "mappings"
EVENTS = "mparticle_events_to_customerio.yaml"
FIREHOSE = "mparticle_firehose_to_customerio.yaml"
AUDIENCES = "mparticle_audiences_to_customerio.yaml"
ACTIVITY = "customerio_activity_to_mparticle.yaml"

# (mapping, old, new, the text the problem points at (first occurrence in new), code, words)
PLANTED = [
    (
        EVENTS,
        "doc.user_identities.customer_id ||",
        "doc.user_identitys.customer_id ||",
        "user_identitys",
        "E501",
        "unknown input key 'user_identitys'",
    ),
    (
        EVENTS,
        "get_ci(doc.user_attributes, '$FirstName')",
        "doc.user_atributes.loyalty_tier",
        "user_atributes",
        "E501",
        "(did you mean 'user_attributes'?)",
    ),
    (
        EVENTS,
        "'commerce_event' && data.product_action\"",
        "'commerce_event' && event.data.product_acton\"",
        "product_acton",
        "E501",
        "(did you mean 'product_action'?)",
    ),
    (
        EVENTS,
        "timestamp_ms: event.data.timestamp_unixtime_ms",
        "timestamp_ms: event.data.timestamp_unixtim_ms",
        "timestamp_unixtim_ms",
        "E501",
        "(did you mean 'timestamp_unixtime_ms'?)",
    ),
    (
        EVENTS,
        "when: \"type == 'screen_view' && trim(data.screen_name)\"",
        "when: \"type == 'scren_view' && trim(data.screen_name)\"",
        "'scren_view'",
        "E503",
        "(did you mean 'screen_view'?)",
    ),
    (
        FIREHOSE,
        'trim(event.screen_name)", required: true}',
        'trim(event.screen_nme)", required: true}',
        "screen_nme",
        "E501",
        "(did you mean 'screen_name'?)",
    ),
    (
        FIREHOSE,
        "type == 'push_subscription' && event.action == 'subscribe'",
        "type == 'push_subscribtion' && event.action == 'subscribe'",
        "'push_subscribtion'",
        "E503",
        "(did you mean 'push_subscription'?)",
    ),
    (
        AUDIENCES,
        "changes: \"profile.audiences[?action == 'add' || action == 'delete']",
        "changes: \"profile.audiences[?action == 'add' || action == 'delet']",
        "'delet'",
        "E503",
        "(did you mean 'delete'?)",
    ),
    (
        AUDIENCES,
        'member_key: "profile.mpid || customer_id || email"',
        'member_key: "profile.mipd || customer_id || email"',
        "mipd",
        "E501",
        "(did you mean 'mpid'?)",
    ),
    (
        ACTIVITY,
        "email: doc.data.identifiers.email",
        "email: doc.data.identifiers.emial",
        "emial",
        "E501",
        "(did you mean 'email'?)",
    ),
    (
        ACTIVITY,
        "join(',', data.recipients[].device_id",
        "join(',', data.recipients.device_id",
        "device_id",
        "E502",
        "always null",
    ),
    (
        ACTIVITY,
        'timestamp_unixtime_ms: "s_to_ms(doc.timestamp)"',
        "timestamp_unixtime_ms: doc.data",
        "doc.data",
        "E510",
        "field 'timestamp_unixtime_ms' expects integer, and this is object",
    ),
    (
        ACTIVITY,
        'timestamp_unixtime_ms: "s_to_ms(doc.timestamp)"',
        'timestamp_unixtime_ms: "s_to_ms(doc.data.recipient)"',
        "doc.data.recipient",
        "E504",
        "argument 1 of s_to_ms() is string or null; s_to_ms() takes number or null",
    ),
    (
        EVENTS,
        'platform: "lower(doc.device_info.platform || doc.application_info.os)"',
        'platform: "lower(doc.timestamp_unixtime_ms)"',
        "doc.timestamp_unixtime_ms",
        "E504",
        "so the call fails for every integer value",
    ),
    (
        EVENTS,
        'platform: "lower(doc.device_info.platform || doc.application_info.os)"',
        'platform: "lower(to_string(length(doc.timestamp_unixtime_ms)))"',
        "doc.timestamp_unixtime_ms",
        "E504",
        "argument 1 of length() is integer or null; length() takes string or array or object",
    ),
]


def _compile(path: Path) -> list[Problem]:
    try:
        return list(compile_with_plugins(path).warnings)
    except SpecError as exc:
        return exc.problems


def _plant(tmp_path: Path, mapping: str, old: str, new: str) -> tuple[Path, str]:
    text = (SHIPPED / mapping).read_text("utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {mapping}"
    text = text.replace(old, new)
    path = tmp_path / mapping
    path.write_text(text, "utf-8")
    return path, text


def _line_col(text: str, needle: str, after: str, start: int = 0) -> tuple[int, int]:
    offset = text.index(needle, text.index(after, start))
    line = text.count("\n", 0, offset) + 1
    return line, offset - text.rfind("\n", 0, offset)


@pytest.mark.parametrize("mapping", [EVENTS, FIREHOSE, AUDIENCES, ACTIVITY])
def test_shipped_mappings_have_no_problems_and_no_warnings(mapping: str) -> None:
    assert _compile(SHIPPED / mapping) == []


@pytest.mark.parametrize(
    ("mapping", "old", "new", "at", "code", "words"),
    PLANTED,
    ids=[f"{m.split('_')[0]}-{c}-{a.strip(chr(39))}" for m, _, _, a, c, _ in PLANTED],
)
def test_a_planted_typo_is_found_where_it_is(
    tmp_path: Path, mapping: str, old: str, new: str, at: str, code: str, words: str
) -> None:
    path, text = _plant(tmp_path, mapping, old, new)
    problems = _compile(path)
    assert len(problems) == 1, "\n".join(map(str, problems))
    (problem,) = problems
    assert (problem.line, problem.col) == _line_col(text, at, new), str(problem)
    assert problem.code == code, str(problem)
    assert words in problem.message, str(problem)
    assert problem.severity == "error"
    assert problem.path == str(path)


def test_an_event_rule_without_the_required_name_is_an_error(tmp_path: Path) -> None:
    old = '                  name: {expr: "event_name(data.event_name)", required: true}\n'
    path, text = _plant(tmp_path, EVENTS, old, "")
    problems = _compile(path)
    assert [p.code for p in problems] == ["E512"], "\n".join(map(str, problems))
    rule = text.index("- name: custom event")
    assert (problems[0].line, problems[0].col) == _line_col(text, "event\n", "action: ", rule)
    assert "requires 'name', which this rule never sets" in problems[0].message
    assert "dead-lettered" in problems[0].message


def test_a_required_field_that_may_be_null_is_a_warning(tmp_path: Path) -> None:
    old = 'name: {expr: "event_name(data.event_name)", required: true}'
    new = 'name: "event_name(data.event_name)"'
    path, text = _plant(tmp_path, EVENTS, old, new)
    problems = _compile(path)  # compiles: warnings do not stop a mapping
    assert [(p.code, p.severity) for p in problems] == [("E513", "warning")]
    assert (problems[0].line, problems[0].col) == _line_col(text, "event_name(", new)
    assert "may be dead-lettered at delivery" in problems[0].message
    assert problems[0].suggestion


def test_an_object_built_in_a_variable_is_checked_key_by_key(tmp_path: Path) -> None:
    # The Events API allows a numeric customer_id; Customer.io's identifiers.id is a string.
    old = "      id: person_id\n"
    path, text = _plant(tmp_path, EVENTS, old, "      id: customer_id_value\n")
    problems = _compile(path)
    assert problems, "a numeric id would be dead-lettered: expected warnings"
    assert {(p.code, p.severity) for p in problems} == {("E511", "warning")}
    assert all("field 'identifiers' key 'id' expects string" in p.message for p in problems)
    first = text.index("identifiers: identifiers")
    assert (problems[0].line, problems[0].col) == _line_col(
        text, "identifiers\n", "identifiers: identifiers", first
    )


def test_a_variadic_functions_further_arguments_are_its_own_to_judge(tmp_path: Path) -> None:
    """jmespath checks the first arguments a signature lists; those a variadic function
    takes beyond them are the function's (``merge_deep`` skips what is not an object)."""
    old = 'platform: "lower(doc.device_info.platform || doc.application_info.os)"'
    further = 'platform: "keys(merge_deep(doc.user_attributes, settings.user_id_type)) | [0]"'
    path, _ = _plant(tmp_path, EVENTS, old, further)
    assert _compile(path) == []
    first = 'platform: "keys(merge_deep(settings.user_id_type, doc.user_attributes)) | [0]"'
    path, _ = _plant(tmp_path, EVENTS, old, first)
    assert [p.code for p in _compile(path)] == ["E504"]
