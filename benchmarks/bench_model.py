"""How fast the model answers, as ratios against baselines measured in the same run.

On one fixed pseudo-random trace of the shipped specs (accepted and refused events, as a
conformance check sends them) and on an accepted-only trace (login/logout cycles, each
event moving one or two machines), in the same process:

- pure step: ``Semantics.step(snapshot, event, params)`` (semantics.py), the one semantics;
- Executable: the stateful wrapper over it that simulate and check use;
- statechart: the python-statemachine composition (statechart.py), the design the model
  ran on before the pure step, kept for the differential test;
- dict floor: one dict look-up per event, the least any model can cost.

Goals (issue 8): pure step >= 10x the statechart composition on accepted events and >= 5x
on the mixed trace. Run: ``python benchmarks/bench_model.py [--events N] [--json]``; with
``--json`` the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from typing import Any

from authspec.model import Executable, load
from authspec.model.semantics import semantics_of
from authspec.model.statechart import Composition

REGISTER = dict(local_account=True, registration_form=True, agreement_acknowledged=True,
                card_application_form=False, id_document="valid", card="registered_card",
                own_ukey=False, ukey_presented=False, ukey_brand="brand_a",
                initial_login_password="123456", initial_payment_password="246810")
PAY = dict(method="static", channel="b2c", password="246810", otp_code_correct=True,
           ukey_connected=True, ukey_password_correct=True)
PREPARE = [("register", REGISTER), ("login", {"password": "123456"}),
           ("change_login_password", {"old": "123456", "new": "Login2024"}), ("logout", {})]
CYCLE = [("login", {"password": "Login2024"}), ("logout", {})]

Steps = list[tuple[str, dict[str, Any]]]


def trace(length: int, seed: int = 7) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    choices = [
        ("login", lambda: {"password": rng.choice(["123456", "Login2024", "wrong1"])}),
        ("logout", dict),
        ("change_login_password", lambda: {"old": "123456", "new": "Login2024"}),
        ("pay", lambda: {**PAY, "amount": rng.choice([1, 100, 29_999, 30_000])}),
        ("install_driver", lambda: {"brand": rng.choice(["brand_a", "brand_b"])}),
    ]
    steps = [("register", REGISTER)]
    for _ in range(length - 1):
        event, params = rng.choice(choices)
        steps.append((event, params()))
    return steps


def per_second(run: Callable[[], None], count: int, repeats: int = 3) -> float:
    """Events per second of the best of ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def pure_runner(steps: Steps, prefix: Steps) -> Callable[[], None]:
    semantics = semantics_of(load())

    def run() -> None:
        snapshot = semantics.initial
        for event, params in prefix:
            _, snapshot = semantics.step(snapshot, event, params)
        step = semantics.step
        for event, params in steps:
            _, snapshot = step(snapshot, event, params)

    return run


def executable_runner(steps: Steps, prefix: Steps) -> Callable[[], None]:
    model = Executable(load())

    def run() -> None:
        model.reset()
        for event, params in prefix:
            model.step(event, params)
        for event, params in steps:
            model.step(event, params)

    return run


def statechart_runner(steps: Steps, prefix: Steps) -> Callable[[], None]:
    composition = Composition(load())

    def run() -> None:
        composition.reset()
        for event, params in prefix:
            composition.step(event, params)
        for event, params in steps:
            composition.step(event, params)

    return run


def dict_floor(steps: Steps) -> Callable[[], None]:
    table = {"pay": True}

    def run() -> None:
        for event, _ in steps:
            table.get(event)

    return run


def measure(events: int) -> dict[str, float]:
    mixed = trace(events)
    busy = CYCLE * (events // 2)
    model = Executable(load())
    accepted = sum(model.step(e, p).accepted for e, p in mixed)
    figures: dict[str, float] = {"events": len(mixed), "mixed_accepted": accepted}
    for name, runner in (("pure", pure_runner), ("executable", executable_runner),
                         ("statechart", statechart_runner)):
        figures[f"{name}_events_per_s"] = per_second(runner(mixed, []), len(mixed))
        figures[f"{name}_accepted_per_s"] = per_second(runner(busy, PREPARE), len(busy))
    figures["dict_floor_per_s"] = per_second(dict_floor(mixed), len(mixed))
    figures["pure_over_statechart_mixed"] = (figures["pure_events_per_s"]
                                             / figures["statechart_events_per_s"])
    figures["pure_over_statechart_accepted"] = (figures["pure_accepted_per_s"]
                                                / figures["statechart_accepted_per_s"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    f = measure(args.events)
    print(f"trace: {f['events']:.0f} events, {f['mixed_accepted']:.0f} accepted by the model; "
          f"accepted-only trace: {args.events // 2 * 2} login/logout events")
    print(f"{'':12} {'mixed events/s':>15} {'accepted events/s':>18}")
    for name in ("pure", "executable", "statechart"):
        print(f"{name:12} {f[name + '_events_per_s']:15.0f} {f[name + '_accepted_per_s']:18.0f}")
    print(f"{'dict floor':12} {f['dict_floor_per_s']:15.0f}")
    print(f"pure/statechart: mixed {f['pure_over_statechart_mixed']:.1f}x (goal >= 5), "
          f"accepted {f['pure_over_statechart_accepted']:.1f}x (goal >= 10)")
    if args.json:
        print(json.dumps({k: round(v, 3) for k, v in f.items()}, sort_keys=True))


if __name__ == "__main__":
    main()
