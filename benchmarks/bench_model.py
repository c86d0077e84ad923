"""How fast the executable model answers, as ratios against baselines measured in the same run.

- model: ``Executable.step`` on a fixed pseudo-random trace of the shipped specs (accepted
  and refused events, as a conformance check sends them);
- chart floor: one python-statemachine StateChart taking one transition per event, the
  least any model built on the library can cost per accepted event;
- refusal floor: a plain Python function refusing an event after one dict look-up.

Run: ``.venv/bin/python benchmarks/bench_model.py [--events N]``
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from statemachine.io.class_factory import create_machine_class_from_definition

from authspec.model import Executable, load

REGISTER = dict(local_account=True, registration_form=True, agreement_acknowledged=True,
                card_application_form=False, id_document="valid", card="registered_card",
                own_ukey=False, ukey_presented=False, ukey_brand="brand_a",
                initial_login_password="123456", initial_payment_password="246810")
PAY = dict(method="static", channel="b2c", password="246810", otp_code_correct=True,
           ukey_connected=True, ukey_password_correct=True)


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


def per_second(run: Any, count: int) -> float:
    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    steps = trace(args.events)
    model = Executable(load())
    accepted = sum(model.step(e, p).accepted for e, p in steps)

    def run_model() -> None:
        model.reset()
        for event, params in steps:
            model.step(event, params)

    chart = create_machine_class_from_definition(
        "BenchFloor", states={"a": {"initial": True, "on": {"go": [{"target": "b"}]}},
                              "b": {"on": {"go": [{"target": "a"}]}}})()

    def run_chart() -> None:
        for _ in range(args.events):
            chart.send("go")

    table = {"pay": True}

    def run_refusal() -> None:
        for event, _ in steps:
            table.get(event)

    cycle = [("login", {"password": "Login2024"}), ("logout", {})]
    model.reset()
    for event, params in [("register", REGISTER), ("login", {"password": "123456"}),
                          ("change_login_password", {"old": "123456", "new": "Login2024"}),
                          ("logout", {})]:
        assert model.step(event, params).accepted
    ready = model.snapshot()
    busy = cycle * (args.events // 2)

    def run_accepted() -> None:
        model.restore(ready)
        for event, params in busy:
            model.step(event, params)

    accepted_rate = per_second(run_accepted, len(busy))
    model_rate = per_second(run_model, len(steps))
    chart_rate = per_second(run_chart, args.events)
    refusal_rate = per_second(run_refusal, len(steps))
    print(f"trace: {len(steps)} events, {accepted} accepted by the model")
    print(f"model         {model_rate:10.0f} events/s")
    print(f"accepted only {accepted_rate:10.0f} events/s (login/logout, each moves 1-2 "
          "machines)")
    print(f"chart floor   {chart_rate:10.0f} transitions/s  (model/floor = "
          f"{model_rate / chart_rate:.2f}; accepted only/floor = "
          f"{accepted_rate / chart_rate:.2f})")
    print(f"dict floor    {refusal_rate:10.0f} look-ups/s    (model/floor = "
          f"{model_rate / refusal_rate:.4f})")


if __name__ == "__main__":
    main()
