"""Mapping speed: the shipped mParticle -> Customer.io mapping, four ways, in one run.

    python benchmarks/mapping_speed.py [--batches 2000] [--rounds 5]

Generates realistic mParticle Events API batches (identities, user attributes, custom
events and screen views), checks that every variant produces identical actions, then
reports events/second and the ratio to a hand-written Python function:

  hand-written    a plain function written for this mapping (the yardstick)
  engine          mapwire's generated code (what `send` and `serve` run)
  per-field jmespath  the plan interpreted, each expression pre-compiled by jmespath
  jmespath.search     the plan interpreted, jmespath.search per expression

It also times JSON parsing of the same batches (stdlib json vs orjson), then the whole
`mapwire map` command against a hand-written standalone script (`benchmarks/hand_map.py`,
orjson in, NDJSON out to a file) on the same NDJSON file: alternated over the rounds,
outputs checked byte for byte, each round's rates and the median ratio printed, after one
untimed run of each that may write bytecode (as an installed package has it). Input is
parsed once before timing the mapping in process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jmespath
import orjson

from mapwire.contracts.actions import Action, MapResult
from mapwire.contracts.store import MemoryStore
from mapwire.language.compiler import compile_plan
from mapwire.language.interpreter import Evaluator
from mapwire.language.jmespath_support import make_functions_class
from mapwire.language.mapping_settings import resolve_settings
from mapwire.language.plan import Expr
from mapwire.plugins.standard.string_functions import event_name
from mapwire.plugins.standard.user_attributes import mparticle_attribute_name
from mapwire.runtime.mapping_files import compile_with_plugins, resolve_mapping

MAPPING = "mparticle-events-to-customerio"
NAMES = ["Added To Cart", "Viewed Product", "Search", "Checkout Started", "Level Up "]
SCREENS = ["Home", "Product Detail", "Cart", "Settings"]


def make_batches(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    batches = []
    for i in range(n):
        events = []
        for j in range(rnd.randint(5, 15)):
            ts = 1_713_484_800_000 + i * 1000 + j
            if rnd.random() < 0.8:
                events.append(
                    {
                        "event_type": "custom_event",
                        "data": {
                            "event_name": rnd.choice(NAMES),
                            "custom_event_type": "transaction",
                            "source_message_id": f"{i:08x}-{j:04x}-4bde-9b7e-7c0b2f6d2a11",
                            "timestamp_unixtime_ms": ts,
                            "session_uuid": "91b86d0c-86cb-4124-a8b2-edee107de454",
                            "custom_attributes": {
                                "sku": f"SKU-{rnd.randint(1, 999)}",
                                "price": f"{rnd.random() * 100:.2f}",
                                "category": rnd.choice(["shoes", "hats", "bags"]),
                            },
                        },
                    }
                )
            else:
                events.append(
                    {
                        "event_type": "screen_view",
                        "data": {
                            "screen_name": rnd.choice(SCREENS),
                            "source_message_id": f"{i:08x}-{j:04x}-4bde-9b7e-7c0b2f6d2a12",
                            "timestamp_unixtime_ms": ts,
                            "custom_attributes": {"from": "push"},
                        },
                    }
                )
        batches.append(
            {
                "environment": "production",
                "mpid": 7346244611012968789 + i,
                "user_identities": {"customer_id": f"cust-{i}", "email": f"user{i}@example.com"},
                "user_attributes": {
                    "$FirstName": "Ann",
                    "$LastName": "Lee",
                    "$City": "Oslo",
                    "plan": rnd.choice(["free", "pro"]),
                    "logins": rnd.randint(1, 500),
                },
                "device_info": {"platform": "iOS", "os_version": "17.4"},
                "events": events,
            }
        )
    return batches


def hand_written(doc: dict[str, Any], settings: dict[str, Any]) -> list[Action]:
    """The same mapping, written by hand for the event types the corpus contains (with
    the shipped defaults: tags skipped, no date attributes)."""
    ids = doc.get("user_identities") or {}
    customer_id, email = ids.get("customer_id"), ids.get("email")
    customer_id = None if customer_id is None else str(customer_id)
    email = None if email is None else str(email)
    if not customer_id and not email:
        return []
    identifiers = {"id": customer_id} if customer_id else {"email": email}
    attrs = doc.get("user_attributes") or {}
    attributes: dict[str, Any] = {}
    if settings["include_user_attributes"]:
        reserved = {}
        for k, v in attrs.items():
            if v is None:  # a tag: skipped by default
                continue
            if k.startswith("$"):
                reserved[mparticle_attribute_name(k) or k] = v
            else:
                attributes[k] = v
        attributes.update(reserved)
    for want, out in (("$firstname", "first_name"), ("$lastname", "last_name")):
        for k, v in attrs.items():
            if k.lower() == want:
                if v is not None:
                    attributes[out] = v
                break
    if email is not None:
        attributes["email"] = email
    actions = [
        Action(
            "customerio",
            "identify",
            {"identifiers": identifiers, "attributes": attributes},
            (),
            "identify",
        )
    ]
    for event in doc.get("events") or ():
        kind = event.get("event_type")
        data = event.get("data") or {}
        ts = data.get("timestamp_unixtime_ms")
        if kind == "custom_event":
            name = event_name(data.get("event_name"))
            payload = {"identifiers": identifiers, "name": name}
            rule = "custom event"
            action = "event"
        elif kind == "screen_view":
            name = data["screen_name"].strip()
            payload = {"identifiers": identifiers, "name": name}
            rule = "screen view"
            action = "screen"
        else:
            continue
        if not name:  # blank names are skipped and counted
            continue
        if data.get("source_message_id") is not None:
            payload["event_id"] = data["source_message_id"]
        if ts is not None:
            payload["timestamp_ms"] = ts  # the destination turns it into seconds
        if data.get("custom_attributes") is not None:
            payload["data"] = data["custom_attributes"]
        actions.append(Action("customerio", action, payload, (), rule))
    return actions


class SearchEvaluator(Evaluator):
    """The interpreter, calling ``jmespath.search`` (parse cache + search) per expression."""

    def __init__(self, plan: Any) -> None:
        super().__init__(plan)
        self._options = jmespath.Options(custom_functions=make_functions_class(plan.functions)())

    def search(self, expr: Expr, ctx: Any) -> Any:
        return jmespath.search(expr.text, ctx, options=self._options)


def best_rate(fn: Callable[[], None], events: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return events / best


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--batches", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--command-batches",
        type=int,
        help="batches in the NDJSON file for the whole-command pair (default: --batches); "
        "process start weighs less on a bigger file",
    )
    args = ap.parse_args()

    plan = compile_with_plugins(resolve_mapping(MAPPING))
    settings = resolve_settings(plan)
    batches = make_batches(args.batches)
    events = sum(len(b["events"]) for b in batches)
    compiled = compile_plan(plan)
    interpreted = Evaluator(plan)
    searching = SearchEvaluator(plan)

    def engine_run(runner: Any) -> Callable[[], None]:
        def go() -> None:
            store = MemoryStore()
            for b in batches:
                runner.run(b, settings, store)

        return go

    def hand() -> None:
        for b in batches:
            hand_written(b, settings)

    # Identical output first: a fast wrong answer is worth nothing.
    for b in batches[:300]:
        expected = [(a.action, a.payload) for a in hand_written(b, settings)]
        for runner in (compiled, interpreted, searching):
            got: MapResult = runner.run(b, settings, MemoryStore())
            assert [(a.action, a.payload) for a in got.actions] == expected, "outputs differ"

    # Rounds interleave the variants, so a noisy moment hurts them alike; best of each.
    variants = [
        ("hand-written Python", hand, args.rounds),
        ("mapwire engine (generated code)", engine_run(compiled), args.rounds),
        ("per-field compiled jmespath", engine_run(interpreted), max(1, args.rounds // 3)),
        ("jmespath.search per field", engine_run(searching), max(1, args.rounds // 3)),
    ]
    best = {name: float("inf") for name, _, _ in variants}
    for r in range(args.rounds):
        for name, fn, rounds in variants:
            if r < rounds:
                t = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t)
    rows = [(name, events / best[name]) for name, _, _ in variants]
    base = rows[0][1]

    print(f"{len(batches)} batches, {events} events, best of {args.rounds} rounds")
    print(f"{'variant':34} {'events/s':>12} {'ratio':>7}")
    for name, rate in rows:
        print(f"{name:34} {rate:12,.0f} {rate / base:7.2f}x")

    lines = [json.dumps(b).encode() for b in batches]
    size = sum(len(x) for x in lines)
    t_json = best_rate(lambda: [json.loads(x) for x in lines], events, args.rounds)
    t_orjson = best_rate(lambda: [orjson.loads(x) for x in lines], events, args.rounds)
    print(
        f"\nJSON parsing ({size / 1e6:.1f} MB): stdlib {t_json:,.0f} events/s, "
        f"orjson {t_orjson:,.0f} events/s ({t_orjson / t_json:.1f}x)"
    )

    if args.command_batches and args.command_batches != args.batches:
        more = make_batches(args.command_batches)
        lines = [json.dumps(b).encode() for b in more]
        events = sum(len(b["events"]) for b in more)
    whole_commands(lines, events, args.rounds)


def whole_commands(lines: list[bytes], events: int, rounds: int) -> None:
    """``benchmarks/hand_map.py`` vs ``mapwire map``, whole processes on the same NDJSON file,
    alternated over the rounds (so a noisy moment hurts both alike); outputs must match."""
    here = Path(__file__).resolve().parent
    exe = Path(sys.executable).parent / "mapwire"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batches.ndjson"
        path.write_bytes(b"\n".join(lines) + b"\n")
        commands = {
            "hand-written script": [sys.executable, str(here / "hand_map.py"), str(path)],
            "mapwire map": [str(exe), "map", "--mapping", MAPPING, str(path)],
        }
        rates: dict[str, list[float]] = {name: [] for name in commands}
        # An installed package has its bytecode compiled (pip does it at install time); an
        # editable checkout under PYTHONDONTWRITEBYTECODE would compile every module on
        # every start. One untimed run of each command, allowed to write bytecode, first.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        for name, command in commands.items():
            warm = [*command, str(Path(tmp) / "warm.out")] if name != "mapwire map" else command
            subprocess.run(warm, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        print(f"\nwhole commands on the NDJSON file (process start included), {rounds} round(s):")
        for r in range(rounds):
            outputs = {}
            for name, command in commands.items():
                target = Path(tmp) / f"{name.split()[0]}.out"
                t = time.perf_counter()
                if name == "mapwire map":
                    with target.open("wb") as sink:
                        done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE)
                else:
                    done = subprocess.run([*command, str(target)], stderr=subprocess.PIPE)
                elapsed = time.perf_counter() - t
                if done.returncode != 0:
                    raise SystemExit(f"{name}: exit {done.returncode}: {done.stderr[-500:]!r}")
                rates[name].append(events / elapsed)
                outputs[name] = target.read_bytes()
            if len(set(outputs.values())) != 1:
                raise SystemExit("the hand-written script and `mapwire map` wrote different output")
            hand, ours = (rates[name][-1] for name in commands)
            print(
                f"  round {r + 1}: hand-written {hand:,.0f} events/s, "
                f"mapwire map {ours:,.0f} events/s ({ours / hand:.2f}x)"
            )
        ratios = [m / h for h, m in zip(*rates.values(), strict=True)]
        hand_rate, ours_rate = (statistics.median(rates[name]) for name in commands)
        print(
            f"identical output; median: hand-written {hand_rate:,.0f} events/s, "
            f"mapwire map {ours_rate:,.0f} events/s, "
            f"ratio {statistics.median(ratios):.2f}x"
        )


if __name__ == "__main__":
    main()
