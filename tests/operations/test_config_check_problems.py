"""``mapwire config check`` reports every problem of a config in one run, in file order,
and warns (without failing) about a secret written in the file instead of ``{env: NAME}``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from operations_helpers import mapwire

ENV = {"CIO_SITE": "site-1", "CIO_KEY": "key-from-env"}
PROBLEM_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<rest>.*)$")


def _config(tmp_path: Path, *lines: str) -> Path:
    """``mapwire.yaml`` in ``tmp_path``: ``mapwire: 1`` and then ``lines``."""
    config = tmp_path / "mapwire.yaml"
    config.write_text("mapwire: 1\n" + "".join(lines))
    return config


def _cio_events(destination: str, *more: str) -> str:
    """The ``connections:`` of one events connection to Customer.io with ``destination``
    (a YAML flow mapping) and ``more`` lines of it."""
    return (
        "connections:\n"
        "  - name: cio-events\n"
        "    flow: mparticle-events-to-customerio\n"
        f"    destination: {destination}\n" + "".join(more)
    )


def _problems(stdout: str) -> list[tuple[int, int, str]]:
    """(line, col, 'CODE message') of each printed problem (suggestion lines left out)."""
    found = []
    for text in stdout.splitlines():
        m = PROBLEM_LINE.match(text)
        if m:
            found.append((int(m["line"]), int(m["col"]), m["rest"]))
    return found


def test_one_run_reports_every_problem_in_file_order(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        "prot: 1\n"
        "connections:\n"
        "  - name: cio-events\n"
        "    flow: mparticle-events-to-customerio\n"
        "    destination: {site_id: {env: CIO_SITE}, api_key: {env: CIO_KEY}, region: euu}\n"
        "  - name: cio-typo\n"
        "    flow: mparticle-events-to-customeri\n"
        "    destination: {site_id: {env: CIO_SITE}, api_key: {env: CIO_KEY}, region: mars}\n"
        "    transport: 5\n"
        "    delivery: {concurency: 4}\n",
    )
    done = mapwire("config", "check", str(config), cwd=tmp_path, env=ENV)
    assert done.returncode == 1, done.stdout + done.stderr
    found = _problems(done.stdout)
    assert found == [
        (2, 1, "E101 unknown key 'prot'"),
        (6, 78, "C107 destination 'customerio': region: must be one of ['us', 'eu']"),
        (
            8,
            11,
            "C101 unknown flow 'mparticle-events-to-customeri'"
            " (did you mean 'mparticle-events-to-customerio'?)",
        ),
        (9, 78, "C107 destination 'customerio': region: must be one of ['us', 'eu']"),
        (10, 16, "E103 expected string, got number"),
        (11, 16, "E101 unknown key 'concurency' (did you mean 'concurrency'?)"),
    ]
    assert found == sorted(found) and len(set(found)) == len(found)
    assert all(line.startswith(f"{config}:") for line in done.stdout.splitlines()[:1])
    assert "6 problem(s)" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_literal_secret_warns_without_showing_it_and_passes(tmp_path: Path) -> None:
    config = tmp_path / "mapwire.yaml"
    config.write_text(
        "mapwire: 1\n"
        "connections:\n"
        "  - name: cio-events\n"
        "    flow: mparticle-events-to-customerio\n"
        '    destination: {site_id: demo-site, api_key: "literal-SECRET7"}\n'
        "  - name: cio-activity\n"
        "    flow: customerio-activity-to-mparticle\n"
        "    source: {webhook_signing_key: whsec-SECRET8}\n"
        "    destination: {api_key: {env: CIO_KEY}, api_secret: {env: CIO_KEY}}\n"
    )
    done = mapwire("config", "check", str(config), cwd=tmp_path, env=ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "SECRET7" not in output and "SECRET8" not in output
    assert _problems(done.stdout) == [
        (
            5,
            48,
            "warning C203 destination setting 'api_key' is a secret written in the config;"
            " secrets belong in the environment",
        ),
        (
            8,
            35,
            "warning C203 source setting 'webhook_signing_key' is a secret written in the"
            " config; secrets belong in the environment",
        ),
    ]
    assert (
        "  suggestion: write `{env: CIO_EVENTS_API_KEY}` and set CIO_EVENTS_API_KEY"
        " in the environment" in done.stdout
    )
    assert "cio-events: mparticle-events-to-customerio -> customerio" in done.stdout
    assert "OK (2 connection(s), 2 warning(s))" in done.stderr


def test_warnings_are_listed_with_the_errors_in_file_order(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        _cio_events("{site_id: demo-site, api_key: literal-SECRET7, region: euu}"),
    )
    done = mapwire("config", "check", str(config), cwd=tmp_path, env=ENV)
    assert done.returncode == 1
    codes = [rest.split(" (")[0][:13] for _, _, rest in _problems(done.stdout)]
    assert codes == ["warning C203 ", "C107 destinat"]
    assert "SECRET7" not in done.stdout + done.stderr
    assert "1 problem(s), 1 warning(s)" in done.stderr


def test_literal_keys_of_a_local_sink_connection_draw_no_warning(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        _cio_events("{site_id: demo-site, api_key: demo-key}", "    transport: sink:delivered\n"),
    )
    done = mapwire("config", "check", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in done.stdout + done.stderr


def test_the_bundled_demo_config_gives_no_warning(tmp_path: Path) -> None:
    from mapwire.runtime.config import DEMO_CONFIG

    done = mapwire("config", "check", str(DEMO_CONFIG), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in done.stdout + done.stderr
    assert "OK (4 connection(s))" in done.stderr


@pytest.mark.parametrize(
    "text",
    [
        "mapwire: 1\nconnections: 5\n",
        "mapwire: 1\nconnections: [5, x, {name: 1, flow: 2, settings: 3, destination: 4}]\n",
        "mapwire: 1\nmappings: 5\nserver: {auth: {bearer_token: {env: 3}}}\nconnections:\n"
        "  - {name: a, flow: nope, destination: {api_key: {env: 5}}, dedup_ttl: x}\n",
        "mapwire: 1\nserver: 5\ndelivery: 5\nconnections:\n"
        "  - {name: a, flow: mparticle-events-to-customerio, source: [1], delivery: 5}\n",
        "- 1\n",
    ],
    ids=["connections", "entries", "env", "sections", "list"],
)
def test_a_malformed_config_is_reported_not_crashed_on(tmp_path: Path, text: str) -> None:
    config = tmp_path / "mapwire.yaml"
    config.write_text(text)
    done = mapwire("config", "check", str(config), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    found = _problems(done.stdout)
    assert found and [p[:2] for p in found] == sorted(p[:2] for p in found)


def test_every_command_that_loads_the_config_says_the_warning(tmp_path: Path) -> None:
    """Not only ``config check``: ``dlq list`` (as ``serve`` and ``send``) prints the
    warning on stderr once and goes on."""
    config = _config(
        tmp_path,
        _cio_events("{site_id: demo-site, api_key: literal-SECRET7}"),
    )
    done = mapwire("dlq", "list", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("warning C203 destination setting 'api_key' is a secret") == 1
    assert "SECRET7" not in done.stdout + done.stderr
