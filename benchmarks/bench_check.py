"""Benchmark of the conformance harness against the reference bank.

Measured in one run and printed as ratios:

1. steps per second of ``authspec check`` against the bank (model, comparison,
   observation, invariants and Hypothesis included);
2. steps per second of a hand-written Hypothesis RuleBasedStateMachine for a few of the
   same rules (register, login, static-password payments and the 300 yuan quota), with a
   hand-written expectation instead of the model; like the check, it calls ``observe()``
   after every step and compares what it observes with what it expects;
3. steps per second of the bank adapter called directly (no Hypothesis, no model),
   ``perform`` and ``observe`` per step: the ceiling. ``direct`` replays the very resets
   and steps the check made (recorded during run 1), so both do the same work and
   check/direct is the share of the check's time spent in the bank; ``direct loop`` is a
   fixed loop of registration, login and payments (the figure earlier versions reported).

Goal (issue 8): check/direct >= 0.5 with observation on.

Then, per mutant, time to kill with the harness as shipped against plain uniform rule
choice (no boundary weighting of the parameters' repair, no repeat rule, no roadmap, no
sweep), each with the same time cap.

    .venv/bin/python benchmarks/bench_check.py [--seconds 15] [--mutants sample|all|none|NAME,...]
                                               [--json]

With ``--json`` the last line is one JSON object: ``check_steps_per_s``,
``handwritten_steps_per_s``, ``direct_steps_per_s``, ``check_over_direct``,
``check_over_handwritten``, the same check/direct ratio in CPU time of this process
(``check_over_direct_cpu``: not moved by other processes competing for the cores) and, per
mutant measured, the times to kill.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from typing import Any, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from authspec.bank.adapter import make_adapter
from authspec.harness.adapter import Response
from authspec.harness.options import CheckOptions
from authspec.harness.run import check

SAMPLE = ["register_without_form", "quota_limit_30001", "quota_per_payment", "otp_uses_1001",
          "b2c_without_login", "ukey_pay_without_certificate", "login_password_symbols",
          "password_case_insensitive", "reset_keeps_old_password"]

REGISTER = {"local_account": True, "registration_form": True, "agreement_acknowledged": True,
            "card_application_form": False, "id_document": "valid", "card": "registered_card",
            "own_ukey": False, "ukey_presented": False, "ukey_brand": "brand_a",
            "initial_login_password": "123456", "initial_payment_password": "654321"}
PAY = {"method": "static", "channel": "b2c", "password": "654321", "otp_code_correct": False,
       "ukey_connected": False, "ukey_password_correct": False}


# -- 2. a hand-written state machine for R1, R5, R20 ------------------------------------------


class HandWritten(RuleBasedStateMachine):
    """What a tester would write by hand for registration, first login and the quota."""

    adapter: Any = None
    steps = 0

    def __init__(self) -> None:
        super().__init__()
        self.adapter.reset()
        self.registered = False
        self.logged_in = False
        self.spent = 0

    def _do(self, event: str, params: dict[str, Any]) -> Response:
        type(self).steps += 1
        return self.adapter.perform(event, params)

    @invariant()
    def observed_as_expected(self) -> None:
        """What the check does after every step: observe the bank and compare."""
        seen = self.adapter.observe()
        assert seen.states["account"] == ("unregistered" if not self.registered
                                          else seen.states["account"])
        assert (seen.states["session"] != "logged_out") == self.logged_in
        assert seen.variables["static_password.spent"] == self.spent

    @rule()
    def register(self) -> None:
        answer = self._do("register", REGISTER)
        assert answer == (Response.rejected("already_registered") if self.registered
                          else Response.ok())
        self.registered = True

    @precondition(lambda self: self.registered)
    @rule(right=st.booleans())
    def login(self, right: bool) -> None:
        answer = self._do("login", {"password": "123456" if right else "654321"})
        if self.logged_in:
            assert answer == Response.rejected("already_logged_in")
        elif right:
            assert answer == Response.ok()
            self.logged_in = True
        else:
            assert answer == Response.rejected("wrong_password")

    @precondition(lambda self: self.registered)
    @rule(amount=st.integers(1, 40000))
    def pay(self, amount: int) -> None:
        answer = self._do("pay", {**PAY, "amount": amount})
        if self.spent == 30000:
            assert answer == Response.rejected("quota_exhausted")
        elif self.spent + amount > 30000:
            assert answer == Response.rejected("quota_exceeded")
        else:
            assert answer == Response.ok()
            self.spent += amount


def bench_handwritten(seconds: float) -> tuple[int, float]:
    adapter = make_adapter()
    HandWritten.adapter, HandWritten.steps = adapter, 0
    started = time.perf_counter()
    examples = 50
    while time.perf_counter() - started < seconds:
        run_state_machine_as_test(HandWritten, settings=settings(
            max_examples=examples, stateful_step_count=50, deadline=None, database=None,
            suppress_health_check=list(HealthCheck)))
    elapsed = time.perf_counter() - started
    adapter.close()
    return HandWritten.steps, elapsed


# -- 3. the bank alone -----------------------------------------------------------------------


def bench_direct(seconds: float) -> tuple[int, float]:
    adapter = make_adapter()
    steps = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        adapter.reset()
        adapter.perform("register", REGISTER)
        adapter.perform("login", {"password": "123456"})
        for amount in (100, 20000, 9899, 2, 1, 1):
            adapter.perform("pay", {**PAY, "amount": amount})
        for _ in range(8):
            adapter.observe()
        steps += 8
    elapsed = time.perf_counter() - started
    adapter.close()
    return steps, elapsed


# -- 1. the harness --------------------------------------------------------------------------


class Recording:
    """The bank's adapter, logging every reset and step the check makes (for the replay)."""

    log: ClassVar[list[tuple[str, dict[str, Any]] | None]] = []  # None: a reset

    def __init__(self) -> None:
        self.adapter = make_adapter()

    def reset(self) -> None:
        self.log.append(None)
        self.adapter.reset()

    def perform(self, event: str, params: dict[str, Any]) -> Response:
        self.log.append((event, dict(params)))
        return self.adapter.perform(event, params)

    def observe(self) -> Any:
        return self.adapter.observe()

    def close(self) -> None:
        self.adapter.close()


#: CPU seconds (this process, all threads) of the last bench_harness / bench_replayed run:
#: a ratio of CPU times is not moved by other processes competing for the cores
CPU: dict[str, float] = {}


def bench_harness(seconds: float) -> tuple[int, float, Any]:
    recorder = types.ModuleType("_authspec_bench_recorder")
    recorder.make_adapter = Recording  # type: ignore[attr-defined]
    sys.modules[recorder.__name__] = recorder
    Recording.log = []
    cpu = time.process_time()
    result = check(CheckOptions(backend=f"{recorder.__name__}:make_adapter", seed=7,
                                database=None, out=None, max_seconds=seconds, examples=100000))
    CPU["check"] = time.process_time() - cpu
    assert result.status == "pass", result.failure
    return result.steps, result.elapsed, result


def bench_replayed(log: list[tuple[str, dict[str, Any]] | None]) -> tuple[int, float]:
    """The very resets and steps the check made, sent to the bank directly (perform and
    observe per step, as the check does): the backend's share of the check's time."""
    adapter = make_adapter()
    steps = 0
    started, cpu = time.perf_counter(), time.process_time()
    for entry in log:
        if entry is None:
            adapter.reset()
            continue
        adapter.perform(*entry)
        adapter.observe()
        steps += 1
    elapsed = time.perf_counter() - started
    CPU["direct"] = time.process_time() - cpu
    adapter.close()
    return steps, elapsed


def kill_time(name: str, cap: float, *, uniform: bool) -> tuple[float | None, int | None]:
    flags = ({"repair": False, "repeat": False, "roadmap": False, "sweep": False}
             if uniform else {})
    result = check(CheckOptions(backend=f"mutant:{name}", seed=3, database=None, out=None,
                                max_seconds=cap, examples=100000, shrink_seconds=0, **flags))
    if result.status != "fail":
        return None, None
    return result.time_to_failure, len(result.failure.steps) if result.failure else None


def throughput(seconds: float) -> tuple[dict[str, float], Any]:
    steps, elapsed, result = bench_harness(seconds)
    hand_steps, hand_elapsed = bench_handwritten(seconds)
    loop_steps, loop_elapsed = bench_direct(seconds)
    direct_steps, direct_elapsed = bench_replayed(Recording.log)
    figures = {"check_steps_per_s": steps / elapsed,
               "handwritten_steps_per_s": hand_steps / hand_elapsed,
               "direct_steps_per_s": direct_steps / direct_elapsed,
               "direct_loop_steps_per_s": loop_steps / loop_elapsed,
               "check_steps": steps}
    figures["check_over_direct_loop"] = (figures["check_steps_per_s"]
                                         / figures["direct_loop_steps_per_s"])
    figures["check_over_direct"] = figures["check_steps_per_s"] / figures["direct_steps_per_s"]
    figures["check_cpu_steps_per_s"] = steps / CPU["check"]
    figures["direct_cpu_steps_per_s"] = direct_steps / CPU["direct"]
    figures["check_over_direct_cpu"] = (figures["check_cpu_steps_per_s"]
                                        / figures["direct_cpu_steps_per_s"])
    figures["check_over_handwritten"] = (figures["check_steps_per_s"]
                                         / figures["handwritten_steps_per_s"])
    figures["handwritten_over_direct"] = (figures["handwritten_steps_per_s"]
                                          / figures["direct_steps_per_s"])
    return figures, result


def print_throughput(seconds: float, f: dict[str, float], result: Any) -> None:
    print(f"Throughput against the reference bank ({seconds:g} s each, observe after every step)")
    print(f"  authspec check (model + bank + observe)   {f['check_steps_per_s']:8.0f} steps/s")
    print(f"  hand-written Hypothesis machine (3 rules) {f['handwritten_steps_per_s']:8.0f} "
          "steps/s")
    print(f"  the check's own steps, sent directly      {f['direct_steps_per_s']:8.0f} steps/s")
    print(f"  a fixed loop sent directly (+observe)     {f['direct_loop_steps_per_s']:8.0f} "
          "steps/s")
    print(f"  in CPU time of this process: check {f['check_cpu_steps_per_s']:.0f} steps/s, "
          f"direct {f['direct_cpu_steps_per_s']:.0f} steps/s, "
          f"check/direct = {f['check_over_direct_cpu']:.2f} (not moved by other load)")
    print(f"  ratios: check/direct = {f['check_over_direct']:.2f} (goal >= 0.5), "
          f"check/hand-written = {f['check_over_handwritten']:.2f}, "
          f"check/fixed loop = {f['check_over_direct_loop']:.2f}, "
          f"hand-written/direct = {f['handwritten_over_direct']:.2f}")
    covered = result.coverage.summary()
    print("  coverage of the check: " + ", ".join(f"{k} {a}/{b}" for k, (a, b) in
                                                  covered.items()))


def mutant_names(choice: str) -> list[str]:
    if choice == "none":
        return []
    from authspec.bank.mutants import MUTANTS

    return ([m.name for m in MUTANTS] if choice == "all" else
            SAMPLE if choice == "sample" else choice.split(","))


def kill_times(names: list[str], cap: float) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    if not names:
        return out
    print(f"\nTime to kill (cap {cap:g} s; '-' = survived)")
    print(f"  {'mutant':38s} {'authspec':>10s} {'uniform':>10s} {'speed-up':>9s}")
    for name in names:
        ours, _ = kill_time(name, cap, uniform=False)
        plain, _ = kill_time(name, cap, uniform=True)
        out[name] = {"authspec_s": ours, "uniform_s": plain}
        speedup = (f"{(plain or cap) / ours:8.1f}x" if ours else "      -")
        plus = "" if plain is not None else "+"
        print(f"  {name:38s} {_t(ours):>10s} {_t(plain) if plain else f'>{cap:g} s':>10s}"
              f" {speedup}{plus}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="time per throughput measurement")
    parser.add_argument("--cap", type=float, default=40.0, help="time cap per mutant run")
    parser.add_argument("--mutants", default="sample",
                        help="sample, all, none, or names separated by commas")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    figures, result = throughput(args.seconds)
    print_throughput(args.seconds, figures, result)
    kills = kill_times(mutant_names(args.mutants), args.cap)
    if args.json:
        print(json.dumps({**{k: round(v, 3) for k, v in figures.items()}, "kills": kills},
                         sort_keys=True))


def _t(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


if __name__ == "__main__":
    main()
