"""The plugin system, end to end and by contract.

Third-party plugins are installed for real (``third_party/``): ``mapwire-example-plugin``
(the plugin the author's guide shows, file for file), ``mapwire-broken-plugin`` (fails on
import) and ``mapwire-clash-plugin`` (claims the ``customerio`` destination name and the
``snake_case`` function name). Each
check runs the installed ``mapwire`` script in a subprocess, so it gets a fresh plugin
manager, exactly as a user would. The registry's isolation rules are then checked in
process, and the docs are held to the code: the hook reference to ``hookspecs``, the
guide's listings to the example plugin, the guide's API list to ``mapwire.__all__``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import pytest

import mapwire
from mapwire import (
    Action,
    ActionSpec,
    Capabilities,
    Destination,
    DuplicateNameError,
    Endpoint,
    OutboundRequest,
    Outcome,
    PluginError,
    PreparedItem,
    Source,
    hookimpl,
)
from mapwire.contracts import hookspecs
from mapwire.runtime import registry
from mapwire.runtime.registry import FailedPlugin, Registry, build_registry

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins.md"
HOOKS_DOC = ROOT / "docs" / "hooks.md"
THIRD_PARTY = Path(__file__).parent / "third_party"
EXAMPLE = THIRD_PARTY / "mapwire-example-plugin"
EXAMPLE_MAPPINGS = EXAMPLE / "src" / "mapwire_example_plugin" / "mappings"
EXAMPLE_MAPPING = EXAMPLE_MAPPINGS / "mparticle_events_to_notes.yaml"
SCRIPT = Path(sys.executable).parent / "mapwire"
BUILTINS = {"customerio", "mparticle", "sqlite_store", "sink", "standard"}
BUILD_LEFTOVERS = ("build", "dist", "*.egg-info", "__pycache__")

BATCH = {
    "user_identities": {"customer_id": "42"},
    "events": [
        {"event_type": "custom_event", "data": {"event_name": "signed up"}},
        {"event_type": "screen_view", "data": {"screen_name": "home"}},
    ],
}
ANONYMOUS = {"events": [{"event_type": "custom_event", "data": {"event_name": "hello"}}]}


# -- installing the fixture packages -------------------------------------------------------
def pip(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"pip {args[0]} failed:\n{done.stdout}\n{done.stderr}"


def builds_in_place() -> bool:
    """Whether setuptools can build a wheel here without an isolated build environment:
    it needs ``wheel`` installed, or a setuptools that ships ``bdist_wheel`` (70.1+).
    Found on disk, so setuptools is never imported into the test process."""
    spec = importlib.util.find_spec("setuptools")
    if spec is None or spec.origin is None:
        return False
    bundled = Path(spec.origin).parent / "command" / "bdist_wheel.py"
    return bundled.exists() or importlib.util.find_spec("wheel") is not None


#: Folders of fixture packages the ``mapwire`` script sees now (``PYTHONPATH``). The
#: packages are installed into their own folders, never into the running environment, so
#: that other tests (in this process or in parallel workers) never see them.
PLUGIN_PATHS: list[str] = []


def install(workdir: Path, *names: str) -> Path:
    """Build copies of fixture packages and install them into ``workdir/site`` (a folder of
    their own, made visible through ``PYTHONPATH``); the copies take the build's
    leftovers, so the fixture folders stay clean."""
    copies = []
    for name in names:
        copy = workdir / name
        shutil.copytree(THIRD_PARTY / name, copy, ignore=shutil.ignore_patterns(*BUILD_LEFTOVERS))
        copies.append(str(copy))
    isolation = ["--no-build-isolation"] if builds_in_place() else []
    site = workdir / "site"
    pip("install", "--no-deps", "--target", str(site), *isolation, *copies)
    return site


def with_plugins(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the installed fixture packages on ``PYTHONPATH``."""
    paths = [*PLUGIN_PATHS, *filter(None, [env.get("PYTHONPATH")])]
    return {**env, "PYTHONPATH": os.pathsep.join(paths)} if paths else dict(env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example and broken plugins, installed once for this module (the broken one
    would fail every strict registry, so it is seen only by this module's scripts)."""
    workdir = tmp_path_factory.mktemp("third_party")
    site = str(install(workdir, "mapwire-example-plugin", "mapwire-broken-plugin"))
    PLUGIN_PATHS.append(site)
    try:
        yield workdir
    finally:
        PLUGIN_PATHS.remove(site)


@pytest.fixture
def clash_installed(tmp_path: Path) -> Iterator[None]:
    """The clash plugin, installed for one test only: while it is installed, every command
    that needs destinations fails, by design."""
    site = str(install(tmp_path, "mapwire-clash-plugin"))
    PLUGIN_PATHS.append(site)
    try:
        yield
    finally:
        PLUGIN_PATHS.remove(site)


def run(
    *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed ``mapwire`` script with a clean ``MAPWIRE_*`` environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAPWIRE_")}
    return subprocess.run(
        [str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=with_plugins({**clean, **(env or {})}),
        timeout=120,
        check=False,
    )


def plugins_json(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    done = run("plugins", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    listing: dict[str, Any] = json.loads(done.stdout)
    return listing


# -- discovery: built-ins and third-party plugins, side by side ----------------------------
def test_plugins_lists_builtins_the_example_and_the_broken_plugin(installed: Path) -> None:
    listing = plugins_json()
    by_name = {row["name"]: row for row in listing["plugins"]}
    assert set(by_name) >= BUILTINS
    for name in BUILTINS:
        row = by_name[name]
        assert row["distribution"] == "mapwire"
        assert row["version"] == metadata.version("mapwire")
        assert row["hooks"], f"{name} implements no hook"
    assert by_name["example"] == {
        "name": "example",
        "distribution": "mapwire-example-plugin",
        "version": "0.1.0",
        "hooks": [
            "register_destinations",
            "register_endpoints",
            "register_functions",
            "register_mappings",
            "register_sources",
        ],
        "provides": {
            "destinations": ["example"],
            "endpoints": ["POST /example/notes"],
            "functions": ["shout"],
            "sources": ["example.note_posted"],
        },
    }
    assert "broken" not in by_name
    assert listing["failed"] == [
        {
            "name": "broken",
            "distribution": "mapwire-broken-plugin",
            "error": "RuntimeError: mapwire-broken-plugin fails on import on purpose",
        }
    ]


# -- the example plugin's contributions are used -------------------------------------------
def test_validate_checks_a_mapping_against_the_example_destination(
    installed: Path, tmp_path: Path
) -> None:
    done = run("validate", str(EXAMPLE_MAPPING))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 file(s) OK" in done.stderr

    wrong = tmp_path / "wrong_field.yaml"
    text = EXAMPLE_MAPPING.read_text("utf-8")
    wrong.write_text(text.replace("      author:", "      autor:"), "utf-8")
    done = run("validate", str(wrong))
    assert done.returncode == 1
    assert re.search(
        r":\d+:\d+: E303 action 'note' has no field 'autor' \(did you mean 'author'\?\)",
        done.stdout,
    ), done.stdout


def test_mapwire_test_runs_the_example_cases(installed: Path) -> None:
    done = run("test", str(EXAMPLE_MAPPINGS))
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1] == "4 passed, 0 failed"

    shipped = run("test")  # every plugin's shipped cases, found through register_mappings
    assert shipped.returncode == 0, shipped.stdout
    ok = [line for line in shipped.stdout.splitlines() if "mparticle_events_to_notes" in line]
    assert len(ok) == 3
    assert all(line.startswith("ok ") for line in ok)


def test_map_uses_the_example_destination_and_shout(installed: Path) -> None:
    stdin = json.dumps(BATCH) + "\n" + json.dumps(ANONYMOUS) + "\n"
    done = run("map", "--mapping", "mparticle-events-to-example-notes", stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {
            "destination": "example",
            "action": "note",
            "payload": {"text": "SIGNED UP!", "author": "42"},
        },
        {"destination": "example", "action": "note", "payload": {"text": "HELLO!"}},
    ]


def test_an_installed_plugins_destination_is_in_the_editor_schema_and_describe(
    installed: Path,
) -> None:
    done = run("schema", "mapping")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert "example" in schema["properties"]["destination"]["enum"]
    assert schema["$defs"]["rule_for_example"]["properties"]["action"]["enum"] == ["note"]
    described = run("describe", "destination", "example", "note", "--format", "json")
    assert described.returncode == 0, described.stderr
    data = json.loads(described.stdout)
    assert data["plugin"] == "example"
    assert {f["path"] for f in data["actions"][0]["fields"]} >= {"text", "author"}
    functions = run("describe", "functions")
    assert any(
        line.startswith("shout(") and line.endswith("[example]")
        for line in functions.stdout.splitlines()
    ), functions.stdout


def test_send_delivers_through_the_example_destination(installed: Path, tmp_path: Path) -> None:
    config = tmp_path / "mapwire.yaml"
    config.write_text(
        "mapwire: 1\n"
        "store: sqlite:///" + str(tmp_path / "state.db") + "\n"
        "connections:\n"
        "  - name: notes\n"
        "    flow: mparticle-events-to-example-notes\n"
        "    destination:\n"
        "      base_url: https://notes.example.com/v1\n"
        "      api_key: {env: EXAMPLE_NOTES_KEY}\n"
        "    transport: sink:" + str(tmp_path / "delivered") + "\n",
        "utf-8",
    )
    batches = tmp_path / "in.ndjson"
    batches.write_text(json.dumps(BATCH) + "\n" + json.dumps(ANONYMOUS) + "\n", "utf-8")
    done = run(
        "send",
        "--config",
        str(config),
        "--connection",
        "notes",
        str(batches),
        env={"EXAMPLE_NOTES_KEY": "sentinel-key"},
    )
    assert done.returncode == 0, done.stderr
    assert "delivered: 2 in 1 request(s)" in done.stderr
    recorded = (tmp_path / "delivered" / "notes.example.com.ndjson").read_text("utf-8")
    [request] = [json.loads(line) for line in recorded.splitlines()]
    assert request["method"] == "POST"
    assert request["url"] == "https://notes.example.com/v1/notes"
    assert request["body"] == {
        "notes": [{"text": "SIGNED UP!", "author": "42"}, {"text": "HELLO!"}]
    }
    assert "sentinel-key" not in recorded + done.stdout + done.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    raise AssertionError("serve did not become ready:\n" + process.communicate()[1])


def test_serve_answers_on_the_example_plugins_own_endpoint(installed: Path, tmp_path: Path) -> None:
    """No engine change: the installed plugin declares ``POST /example/notes``, and
    ``mapwire serve`` authenticates, splits, maps, queues and delivers what it posts."""
    delivered = tmp_path / "delivered"
    config = tmp_path / "mapwire.yaml"
    config.write_text(
        "mapwire: 1\n"
        "store: sqlite:///" + str(tmp_path / "state.db") + "\n"
        "server: {auth: {bearer_token: {env: EXAMPLE_INBOUND_TOKEN}}}\n"
        "delivery: {batch_wait_ms: 10}\n"
        "connections:\n"
        "  - name: shouted\n"
        "    flow: example-notes-to-notes\n"
        "    destination: {base_url: 'https://notes.example.com/v1', api_key: k}\n"
        "    transport: sink:" + str(delivered) + "\n",
        "utf-8",
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAPWIRE_")}
    env = with_plugins({**clean, "EXAMPLE_INBOUND_TOKEN": "sentinel-token"})
    port = free_port()
    process = subprocess.Popen(
        [str(SCRIPT), "serve", "--config", str(config), "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        notes = [{"id": "n-1", "text": "hello", "author": "ann"}, {"id": "n-2", "text": "bye"}]
        refused = httpx.post(url + "/example/notes", json=notes, timeout=10)
        assert refused.status_code == 401
        auth = {"Authorization": "Bearer sentinel-token"}
        answer = httpx.post(url + "/example/notes", json=notes, headers=auth, timeout=10)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {
            "status": "accepted",
            "documents": 2,
            "queued": 2,
            "skipped": {},
            "errors": 0,
        }
        bad = httpx.post(url + "/example/notes", json=[7], headers=auth, timeout=10)
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "invalid_shape"
        recorded = delivered / "notes.example.com.ndjson"
        deadline = time.monotonic() + 20
        while not recorded.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    [request] = [json.loads(line) for line in recorded.read_text("utf-8").splitlines()]
    assert request["url"] == "https://notes.example.com/v1/notes"
    assert request["body"] == {"notes": [{"text": "HELLO!", "author": "ann"}, {"text": "BYE!"}]}
    assert "sentinel-token" not in stderr


def test_the_example_plugins_own_tests_pass(installed: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MAPWIRE_", "PYTEST_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=installed / "mapwire-example-plugin",
        capture_output=True,
        text=True,
        env=with_plugins(clean),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout


# -- broken plugins: isolated by default, fatal in strict mode, skipped by the allow-list --
@pytest.mark.parametrize(
    ("args", "env"),
    [(["--strict-plugins"], {}), ([], {"MAPWIRE_STRICT_PLUGINS": "1"})],
    ids=["flag", "env"],
)
def test_strict_mode_makes_the_broken_plugin_fatal(
    installed: Path, args: list[str], env: dict[str, str]
) -> None:
    done = run(*args, "plugins", env=env)
    assert done.returncode != 0
    assert "plugin 'broken' (mapwire-broken-plugin) failed to load" in done.stderr
    assert "fails on import on purpose" in done.stderr


def test_the_allow_list_loads_only_the_named_plugins(installed: Path) -> None:
    allowed = sorted(BUILTINS | {"example"})
    listing = plugins_json(
        {"MAPWIRE_LOAD_PLUGINS": ",".join(allowed), "MAPWIRE_STRICT_PLUGINS": "1"}
    )
    assert sorted(row["name"] for row in listing["plugins"]) == allowed
    assert listing["failed"] == []


def test_an_unknown_function_names_the_plugin_that_failed_to_load(
    installed: Path, tmp_path: Path
) -> None:
    mapping = tmp_path / "uses_missing.yaml"
    text = EXAMPLE_MAPPING.read_text("utf-8")
    assert "shout(" in text
    mapping.write_text(text.replace("shout(", "whisper("), "utf-8")
    done = run("validate", str(mapping))
    assert done.returncode == 1
    assert re.search(
        r":\d+:\d+: E202 unknown function whisper\(\).* — plugin 'broken' failed to load: "
        r"RuntimeError; run `mapwire plugins`$",
        done.stdout,
        re.M,
    ), done.stdout


# -- name clashes --------------------------------------------------------------------------
def test_a_clashing_name_is_an_error_naming_both_plugins_and_the_fix(
    clash_installed: None,
) -> None:
    done = run("plugins")
    assert done.returncode != 0
    assert "destination 'customerio' is registered by both 'customerio' and 'clash'" in (
        done.stderr
    )
    assert "uninstall one of the two distributions (mapwire, mapwire-clash-plugin)" in done.stderr
    # Without the built-in customerio plugin, the function name is the clash left.
    functions = run("validate", env={"MAPWIRE_LOAD_PLUGINS": "standard,clash"})
    assert functions.returncode != 0
    assert functions.stderr.strip() == (
        "Error: function 'snake_case' is registered by both 'standard' and 'clash': "
        "uninstall one of the two distributions (mapwire, mapwire-clash-plugin), or set "
        "MAPWIRE_LOAD_PLUGINS to choose which plugins load (e.g. MAPWIRE_LOAD_PLUGINS=standard)"
    )
    without = plugins_json({"MAPWIRE_LOAD_PLUGINS": ",".join(sorted(BUILTINS))})
    assert "clash" not in {row["name"] for row in without["plugins"]}


# -- the registry's isolation rules, in process --------------------------------------------
class Stub(Destination):
    """A destination that sends nothing, named as asked."""

    description = "sends nothing"
    actions: Mapping[str, ActionSpec] = {}
    settings_schema: Mapping[str, Any] = {"type": "object"}
    capabilities = Capabilities(1, 1_000, 1_000, 1.0)

    def __init__(self, name: str) -> None:
        self.name = name

    def prepare(
        self, action: Action, settings: Mapping[str, Any], *, key: Any = None
    ) -> PreparedItem:
        return PreparedItem(key, action.payload, 0)

    def build_requests(
        self, items: Sequence[PreparedItem], settings: Mapping[str, Any]
    ) -> list[OutboundRequest]:
        return []

    def classify(self, sent: OutboundRequest, response: httpx.Response) -> list[Outcome]:
        return []


def plugin(name: str, **hooks: Callable[..., None]) -> types.ModuleType:
    """An in-process plugin module with the given hook implementations."""
    module = types.ModuleType(name)
    for hook, function in hooks.items():
        setattr(module, hook, hookimpl(function))
    return module


Register = Callable[..., None]

#: hook -> (what a plugin registers through it, what the registry then provides, by name)
REGISTRATIONS: dict[str, tuple[Callable[[Register], None], Callable[[Registry], list[str]]]] = {
    "register_destinations": (lambda r: r(Stub("half")), lambda reg: list(reg.destinations())),
    "register_sources": (
        lambda r: r(Source("half.input", "half", {"type": "object"})),
        lambda reg: list(reg.sources()),
    ),
    "register_endpoints": (
        lambda r: r(Endpoint("/half", "half", ("half.input",), split=lambda body: None)),
        lambda reg: [path.strip("/") for path in reg.endpoints()],
    ),
    "register_functions": (
        lambda r: r("half", str.upper, [["string"]]),
        lambda reg: list(reg.functions()),
    ),
    "register_mappings": (
        lambda r: r(Path("half")),
        lambda reg: [path.name for path in reg.mapping_paths()],
    ),
}


@pytest.fixture
def few_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entry points limited to two built-ins that between them provide every kind."""
    monkeypatch.setenv("MAPWIRE_LOAD_PLUGINS", "standard,customerio")
    monkeypatch.delenv("MAPWIRE_STRICT_PLUGINS", raising=False)


def half_plugin(hook: str) -> types.ModuleType:
    """Registers one thing through ``hook``, then raises."""
    register_one, _ = REGISTRATIONS[hook]

    def implementation(register: Register) -> None:
        register_one(register)
        raise ValueError("half done")

    return plugin("half", **{hook: implementation})


@pytest.mark.parametrize("hook", sorted(REGISTRATIONS))
def test_a_register_hook_that_raises_is_reported_and_its_registrations_discarded(
    few_entry_points: None, hook: str
) -> None:
    reg = build_registry(extra_plugins=[("half", half_plugin(hook))])
    _, provided = REGISTRATIONS[hook]
    for _ in range(2):  # asking again neither resurrects nor re-reports it
        names = provided(reg)
        assert names, "the built-ins still provide theirs"
        assert "half" not in names and "half.input" not in names
    assert reg.failed == [
        FailedPlugin("half", "(in process)", f"{hook} raised ValueError: half done")
    ]


@pytest.mark.parametrize("hook", sorted(REGISTRATIONS))
def test_in_strict_mode_a_register_hook_that_raises_is_fatal(
    few_entry_points: None, hook: str
) -> None:
    reg = build_registry(strict=True, extra_plugins=[("half", half_plugin(hook))])
    _, provided = REGISTRATIONS[hook]
    with pytest.raises(PluginError, match=rf"plugin 'half' failed in {hook}: ValueError"):
        provided(reg)


def test_registering_the_wrong_type_is_a_broken_plugin(few_entry_points: None) -> None:
    wrong = plugin("wrong", register_destinations=lambda register: register("customerio"))
    reg = build_registry(extra_plugins=[("wrong", wrong)])
    assert list(reg.destinations()) == ["customerio"]
    [failure] = reg.failed
    assert failure.name == "wrong"
    assert "registered a str as a destination; expected Destination" in failure.error


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize("swallow", [False, True], ids=["raised", "swallowed"])
def test_a_duplicate_name_always_raises_naming_both_plugins(
    few_entry_points: None, strict: bool, swallow: bool
) -> None:
    def copy_snake_case(register: Register) -> None:
        try:
            register("snake_case", str.lower, [["string"]])
        except PluginError:
            if not swallow:
                raise

    copycat = plugin("copycat", register_functions=copy_snake_case)
    reg = build_registry(strict=strict, extra_plugins=[("copycat", copycat)])
    with pytest.raises(DuplicateNameError) as caught:
        reg.functions()
    assert caught.value.plugins == ("standard", "copycat")
    assert str(caught.value) == (
        "function 'snake_case' is registered by both 'standard' and 'copycat': uninstall one "
        "of the two distributions (mapwire, (in process)), or set MAPWIRE_LOAD_PLUGINS to "
        "choose which plugins load (e.g. MAPWIRE_LOAD_PLUGINS=customerio,standard)"
    )


def test_an_endpoint_path_claimed_twice_names_both_plugins(few_entry_points: None) -> None:
    def copy_webhook(register: Register) -> None:
        register(Endpoint("/customerio/webhook", "copy", ("x.y",), split=lambda body: None))

    copycat = plugin("copycat", register_endpoints=copy_webhook)
    reg = build_registry(extra_plugins=[("copycat", copycat)])
    with pytest.raises(DuplicateNameError) as caught:
        reg.endpoints()
    assert caught.value.plugins == ("customerio", "copycat")
    assert "endpoint '/customerio/webhook' is registered by both" in str(caught.value)


@pytest.mark.parametrize("path", ["acme/hook", "/acme/hook/", "/acme/{connection}"])
def test_an_endpoint_path_must_be_plain_and_absolute(few_entry_points: None, path: str) -> None:
    odd = plugin(
        "odd",
        register_endpoints=lambda register: register(
            Endpoint(path, "odd", ("x.y",), split=lambda body: None)
        ),
    )
    reg = build_registry(extra_plugins=[("odd", odd)])
    assert list(reg.endpoints()) == ["/customerio/webhook"]
    [failure] = reg.failed
    assert f"endpoint path {path!r} must start with '/'" in failure.error


class FakeEntryPoint:
    """What the registry reads from an ``importlib.metadata`` entry point."""

    def __init__(self, name: str, distribution: str, hooks: Mapping[str, Any]) -> None:
        self.name = name
        self.value = f"{distribution.replace('-', '_')}:{name}"
        self.group = registry.ENTRY_POINT_GROUP
        self.dist = types.SimpleNamespace(name=distribution, version="1.0")
        self._plugin = plugin(f"{distribution}.{name}", **hooks)

    def load(self) -> types.ModuleType:
        return self._plugin


def test_two_distributions_claiming_one_plugin_name_raise_naming_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MAPWIRE_LOAD_PLUGINS", raising=False)
    hooks = {"register_destinations": lambda register: register(Stub("customerio"))}
    found = [
        FakeEntryPoint("customerio", "vendor-cio", hooks),
        FakeEntryPoint("customerio", "impostor-cio", {}),
    ]
    fake = types.SimpleNamespace(entry_points=lambda group: found)
    monkeypatch.setattr(registry, "metadata", fake)
    with pytest.raises(DuplicateNameError) as caught:
        build_registry()
    assert set(caught.value.plugins) == {"vendor-cio", "impostor-cio"}
    assert "plugin 'customerio' is registered by both" in str(caught.value)


def test_one_distribution_seen_twice_on_the_path_loads_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MAPWIRE_LOAD_PLUGINS", raising=False)
    hooks = {"register_destinations": lambda register: register(Stub("twice"))}
    once = FakeEntryPoint("twice", "vendor-twice", hooks)
    fake = types.SimpleNamespace(entry_points=lambda group: [once, once])
    monkeypatch.setattr(registry, "metadata", fake)
    reg = build_registry(strict=True)
    assert [p.name for p in reg.plugins] == ["twice"]
    assert list(reg.destinations()) == ["twice"]


def test_a_misspelt_hook_is_reported_under_the_plugins_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MAPWIRE_LOAD_PLUGINS", raising=False)
    hooks = {"register_destination": lambda register: register(Stub("typo"))}
    found = [FakeEntryPoint("typo", "vendor-typo", hooks)]
    monkeypatch.setattr(
        registry, "metadata", types.SimpleNamespace(entry_points=lambda group: found)
    )
    reg = build_registry(strict=False)
    assert [p.name for p in reg.plugins] == []
    [failure] = reg.failed
    assert (failure.name, failure.distribution) == ("typo", "vendor-typo")
    assert "register_destination" in failure.error
    with pytest.raises(PluginError, match=r"plugin 'typo' \(vendor-typo\).*register_destination"):
        build_registry(strict=True)


# -- the hook reference is true by construction --------------------------------------------
SEMANTICS = {
    "firstresult": "First non-None result wins (firstresult).",
    "historic": "Replayed to late plugins (historic).",
    "collected": "All results are collected.",
}
SPEC_MARK = f"{hookspecs.hookspec.project_name}_spec"
HOOKSPECS: dict[str, Callable[..., Any]] = {
    name: fn for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, SPEC_MARK)
}
HEADING = re.compile(r"^## (?P<name>\w+)\((?P<args>[^)]*)\)$", re.M)


def semantics_of(name: str) -> str:
    opts = getattr(HOOKSPECS[name], SPEC_MARK)
    if opts.get("firstresult"):
        return SEMANTICS["firstresult"]
    return SEMANTICS["historic"] if opts.get("historic") else SEMANTICS["collected"]


def hook_sections() -> dict[str, tuple[str, str]]:
    """``name -> (argument list as written, section text)`` from docs/hooks.md."""
    text = HOOKS_DOC.read_text("utf-8")
    matches = list(HEADING.finditer(text))
    ends = [m.start() for m in matches[1:]] + [len(text)]
    return {
        m["name"]: (m["args"], text[m.end() : end]) for m, end in zip(matches, ends, strict=True)
    }


def test_every_hookspec_has_a_section_in_the_hook_reference_and_no_other() -> None:
    assert HOOKSPECS, "no hookspecs found"
    assert sorted(hook_sections()) == sorted(HOOKSPECS)


@pytest.mark.parametrize("name", sorted(HOOKSPECS))
def test_hook_reference_section(name: str) -> None:
    args, body = hook_sections()[name]
    assert args == ", ".join(inspect.signature(HOOKSPECS[name]).parameters), f"## {name}({args})"
    assert semantics_of(name) in body
    assert "```python" in body, f"{name}: no example"


@pytest.mark.parametrize("name", sorted(HOOKSPECS))
def test_hook_docstring_follows_the_template(name: str) -> None:
    doc = inspect.getdoc(HOOKSPECS[name]) or ""
    lines = doc.splitlines()
    summary = " ".join(doc.split("\n\n", 1)[0].split())
    assert summary.startswith("Called ") and summary.endswith("."), f"{name}: first sentence"
    assert lines.count("Returns:") == 1 and lines.count("Args:") == 1, f"{name}: sections"
    semantics = [n for n, line in enumerate(lines) if line in SEMANTICS.values()]
    assert len(semantics) == 1, f"{name}: exactly one semantics line"
    assert lines[semantics[0]] == semantics_of(name)
    returns, args = lines.index("Returns:"), lines.index("Args:")
    assert returns < semantics[0] < args, f"{name}: Returns, semantics line, Args, in order"
    assert lines[returns + 1].startswith("    "), f"{name}: Returns says what"
    documented = [m[1] for line in lines[args + 1 :] if (m := re.match(r"^    (\w+): ", line))]
    assert documented == list(inspect.signature(HOOKSPECS[name]).parameters)
    assert re.fullmatch(r"Since: \d+\.\d+", lines[-1]), f"{name}: ends with Since:"


# -- the guide is the example plugin, file for file ----------------------------------------
LISTING = re.compile(r'^```\w+ title="(?P<path>[^"]+)"\n(?P<body>.*?)^```$', re.M | re.S)


def test_the_guide_shows_the_example_plugin_file_for_file() -> None:
    shown = [(m["path"], m["body"]) for m in LISTING.finditer(GUIDE.read_text("utf-8"))]
    files = {
        path.relative_to(EXAMPLE).as_posix(): path.read_text("utf-8")
        for path in sorted(EXAMPLE.rglob("*"))
        if path.is_file()
        and not any(
            part in {"build", "dist", "__pycache__"} or part.endswith(".egg-info")
            for part in path.relative_to(EXAMPLE).parts
        )
    }
    assert sorted(path for path, _ in shown) == sorted(files), "every file, each shown once"
    for path, body in shown:
        assert body == files[path], f"docs/plugins.md shows an outdated {path}"


# -- the public facade and the engine/plugins boundary -------------------------------------
def documented_public_names() -> set[str]:
    """Backticked names in the bullets of the guide's "The public API" section."""
    section = GUIDE.read_text("utf-8").split("\n## The public API\n", 1)[1].split("\n## ", 1)[0]
    bullets = [line for line in section.splitlines() if line.startswith("- ")]
    return {name for line in bullets for name in re.findall(r"`([A-Za-z_]\w*)`", line)}


def test_the_facade_exports_exactly_what_the_guide_documents() -> None:
    assert set(mapwire.__all__) == documented_public_names()
    assert len(mapwire.__all__) == len(set(mapwire.__all__))
    for name in mapwire.__all__:
        assert getattr(mapwire, name) is not None
        assert not name.startswith("_") or (name.startswith("__") and name.endswith("__")), name


def imported_modules(path: Path, package: str) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports (relative imports resolved), with its line."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"
        elif isinstance(node, ast.Call) and called_name(node) in {"import_module", "__import__"}:
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value


def called_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def package_of(path: Path) -> str:
    """The import package of a module under ``engine/`` (``engine/`` is ``mapwire``)."""
    parts = path.parent.relative_to(ROOT / "engine").parts
    return ".".join(("mapwire", *parts))


def test_the_engine_never_imports_the_plugins() -> None:
    sources = sorted((ROOT / "engine").rglob("*.py"))
    assert len(sources) > 10
    offenders: dict[str, str] = {}
    for path in sources:
        for line, module in imported_modules(path, package_of(path)):
            if re.match(r"(mapwire\.)?plugins(\.|$)", module):
                offenders.setdefault(f"{path.relative_to(ROOT)}:{line}", module)
    assert offenders == {}, "engine/ imports plugins/; go through the registry instead"
