"""Black-box probes of hidden state (harness/probe.py): what the probes derive from the
spec, and that the sweep alone, without observe(), now kills the reference bank's mutants
whose fault is hidden state (a counter counted, reset or kept against the spec; an old
password that still works), while the correct bank still passes."""

from __future__ import annotations

import pytest

from authspec.harness import probe
from authspec.harness.backends import Backend, make_model_adapter
from authspec.harness.driver import Driver, RunState
from authspec.harness.options import CheckOptions
from authspec.harness.roadmap import Goal
from authspec.harness.run import check
from authspec.harness.sweep import goal_params
from authspec.model import load

pytest.importorskip("authspec.bank.mutants")
SHIPPED = load()


def sweep_only(backend: str, *, observe: bool = False) -> CheckOptions:
    """The deterministic sweep and one short example: what the probes alone find."""
    return CheckOptions(backend=backend, seed=0, database=None, out=None, examples=1,
                        steps=1, observe=observe)


@pytest.fixture()
def run() -> RunState:
    """A run against the model itself (a backend that always conforms)."""
    backend = Backend(lambda: make_model_adapter(SHIPPED), SHIPPED, name="model")
    return RunState(SHIPPED, backend, CheckOptions(backend="model", max_seconds=None))


def goal_of(run: RunState, element: str) -> Goal:
    return next(g for g in run.roadmap.goals if g.id == element)


def drive(run: RunState, goal: Goal) -> Driver:
    """A fresh example along the roadmap's route to ``goal``, then the goal."""
    driver = Driver(run)
    for event, params, times in run.roadmap.route(goal):
        for _ in range(times):
            driver.send(event, params, "route")
    driver.send(goal.event, goal_params(driver, goal), "goal")
    return driver


def test_probes_are_the_guards_that_read_a_variable(run):
    probes = probe.probes_of(run.analysis, {"static_password.spent"})
    assert {(p.kind, p.id) for p in probes} == {
        ("rejection", "static_password.pay_beyond_quota"),
        ("transition", "static_password.pay_within_quota"),
        ("transition", "static_password.pay_up_to_quota")}
    assert [p.kind for p in probes] == ["rejection", "transition", "transition"]


def test_watched_variables_of_a_payment_and_of_a_refusal(run):
    goal = goal_of(run, "static_password.pay_within_quota")
    driver = Driver(run)
    for event, params, times in run.roadmap.route(goal):
        for _ in range(times):
            driver.send(event, params, "route")
    before = driver.model.current
    driver.send(goal.event, goal_params(driver, goal), "goal")
    assert "static_password.spent" in probe.watched_variables(driver, goal, before)
    # A refusal changes nothing: the counters the event's transitions read are watched.
    refusal = goal_of(run, "static_password.pay_beyond_quota")
    driver = drive(run, refusal)
    watched = probe.watched_variables(driver, refusal, driver.model.current)
    assert "static_password.spent" in watched


def test_entries_re_enter_visited_states(run):
    """After a static payment, a counter reset of the login password re-enters the states
    already visited; logging in (a restricted session, never visited) does not."""
    goal = goal_of(run, "static_password.pay_within_quota")
    driver = drive(run, goal)
    visited = probe.visited_states(run, [(s.event, s.params) for s in driver.trace])
    entries = probe.entry_steps(driver, visited, goal.event,
                                frozenset({"static_password.spent"}))
    events = [event for event, _, _ in entries]
    assert "reset_login_password" in events
    assert "login" not in events and "pay" not in events


def test_shortest_route_to_a_refusal_that_needs_a_login(run):
    """From a logged-out customer, changing the login password with a wrong old one needs
    one step first (a login)."""
    driver = drive(run, goal_of(run, "login_password.reset"))
    route = probe.shortest_route(driver, lambda model: probe._params_for(
        driver, model, "change_login_password", "login_password.change_with_wrong_old_password",
        "rejection") is not None)
    assert route is not None and [event for event, _ in route] == ["login"]


@pytest.mark.parametrize("name", [
    "quota_counts_refused",  # a refused payment counted in the quota
    "quota_reset_by_password_reset",  # the quota reset by a counter reset
    "change_accepts_pre_reset_password",  # a password from before a reset still works
    "restricted_pays_online_after_reset",  # only the restricted session after a reset
    "reset_session_unrestricted",
])
def test_the_sweep_kills_hidden_state_faults_without_observation(name):
    result = check(sweep_only(f"mutant:{name}"))
    # One Hypothesis example of one step cannot reach these faults: the sweep found it.
    assert result.status == "fail", f"mutant {name} survived the black-box sweep"


@pytest.mark.parametrize("name", ["otp_use_on_wrong_code", "otp_uses_reset_on_logout",
                                  "otp_uses_kept_on_new_card"])
def test_the_sweep_drives_a_hidden_counter_to_its_boundary(name):
    """The remaining uses of an OTP card: counted on a wrong code, reset by a logout, or
    kept from the used-up card; only the 1000-use boundary shows them without observe()."""
    result = check(sweep_only(f"mutant:{name}"))
    assert result.status == "fail", f"mutant {name} survived the black-box sweep"
    assert len(result.failure.steps) > 1000


@pytest.mark.parametrize("seed", [3, 4])
def test_the_correct_bank_passes_the_probes(seed):
    result = check(CheckOptions(backend="bank", seed=seed, database=None, out=None,
                                examples=1, steps=1, observe=False, max_seconds=None))
    assert result.status == "pass", result.failure or result.error
