"""A minimal failing trace shows plain values wherever the value does not matter.

The machine draws each step's parameters from one seed (strategies.SeededChoices), so a
trace Hypothesis found carries values no reader should have to wonder about: an OTP flag
set on a static-password payment, a U-key "connected" that nothing reads. ``simplify`` makes
each parameter plainer while the trace still fails at the same step in the same way."""

from __future__ import annotations

from authspec.harness.backends import open_backend
from authspec.harness.driver import RunState
from authspec.harness.minimise import replay, simplify
from authspec.harness.options import CheckOptions
from authspec.model import load

SHIPPED = load()
REGISTER = {"local_account": True, "registration_form": True, "agreement_acknowledged": True,
            "card_application_form": False, "id_document": "valid", "card": "registered_card",
            "own_ukey": False, "ukey_presented": False, "ukey_brand": "brand_b",
            "initial_login_password": "123456", "initial_payment_password": "123456"}
NOISY_PAY = {"method": "static", "channel": "b2c", "password": "123456",
             "otp_code_correct": True, "ukey_connected": True, "ukey_password_correct": True}


def test_values_that_do_not_matter_become_plain_and_the_trace_still_fails() -> None:
    options = CheckOptions(backend="mutant:quota_limit_30001", database=None, out=None)
    backend = open_backend(options.backend, SHIPPED)
    try:
        run = RunState(SHIPPED, backend, options)
        steps = [("register", REGISTER), ("pay", {**NOISY_PAY, "amount": 29999}),
                 ("pay", {**NOISY_PAY, "amount": 2})]
        failure = replay(run, steps)
        assert failure is not None and len(failure.steps) == 3
        plain = simplify(run, failure, seconds=30)
        again = replay(run, [(s.event, s.params) for s in plain.steps])
    finally:
        backend.close()
    assert len(plain.steps) == 3 and plain.kind == failure.kind
    last = plain.steps[-1]
    assert last.expected.reason == "quota_exceeded" and last.actual is not None
    assert last.actual.accepted
    for step in plain.steps[1:]:
        # nothing reads these flags on a static-password payment: plain False
        assert not step.params["otp_code_correct"] and not step.params["ukey_connected"]
        assert step.params["password"] == "123456"  # the password matters: kept
    assert plain.steps[0].params["ukey_brand"] == "brand_a"  # the first value: plainest
    assert [s.params["amount"] for s in plain.steps[1:]] == [29999, 2]  # the boundary matters
    assert again is not None and len(again.steps) == 3
