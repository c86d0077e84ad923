"""The expression language: parsing, name and type checks, evaluation, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authspec.model import expr as ex
from authspec.model.errors import ExprError
from authspec.model.ir import BOOL, INT, STR, Policy, Type

BRAND = Type("enum", "brand", ("brand_a", "brand_b"))
POLICY = Policy("pin", 4, 6, ("digit", "letter"), ("digit",))
SCOPE = ex.Scope(
    params={"amount": Type("int", "int", min=1, max=100), "code": STR, "brand": BRAND},
    machine="wallet",
    variables={"wallet": {"spent": Type("int", "int", min=0, max=300), "key_brand": BRAND,
                          "open": BOOL},
               "card": {"uses": Type("int", "int", min=0, max=10)}},
    states={"wallet": ("empty", "full"), "card": ("none", "active")},
    policies={"pin": POLICY}, event="pay")


def run(source: str, params=None, values=None, states=None):
    tree, _ = ex.check(ex.parse(source), SCOPE)
    evaluate = ex.compile_expr(tree, {"pin": POLICY})
    params = {"amount": 5, "code": "ab12", "brand": "brand_a", **(params or {})}
    values = {"wallet.spent": 295, "wallet.key_brand": "brand_a", "wallet.open": True,
              "card.uses": 3, **(values or {})}
    states = {"wallet": "empty", "card": "active", **(states or {})}
    return evaluate(params, values, states)


@pytest.mark.parametrize(("source", "value"), [
    ("spent + amount <= 300", True),
    ("spent + amount < 300", False),
    ("card.uses + 1 == 4", True),
    ("state == 'empty' and card.state != 'none'", True),
    ("brand == key_brand", True),
    ("brand in ['brand_b']", False),
    ("brand not in ['brand_b']", True),
    ("not open or spent > 1000", False),
    ("open implies spent >= 295", True),
    ("false implies 1 == 2", True),
    ("matches(code, pin)", True),
    ("matches('abcd', pin)", False),
    ("len(code) == 4", True),
    ("min(spent, 10) + max(amount, 7) == 17", True),
    ("10 // 3 == 3 and 10 % 3 == 1 and -amount == 0 - 5", True),
    ("30_000 == 30000", True),
    ("(spent + amount) * 2 == 600", True),
])
def test_evaluation(source: str, value: bool) -> None:
    assert run(source) is value


@pytest.mark.parametrize(("source", "words"), [
    ("spent <", "expected a value"),
    ("spent < 3 < 4", "comparisons do not chain"),
    ("spent && open", "unexpected character '&'"),
    ("spend > 1", "unknown name 'spend'"),
    ("uses > 1", "did you mean card.uses?"),
    ("bank.spent > 1", "unknown machine 'bank'"),
    ("card.spent > 1", "machine 'card' has no variable 'spent'"),
    ("spent == 'x'", "cannot compare"),
    ("brand == 'brand_c'", "'brand_c' is not a value of brand"),
    ("state == 'ful'", "'ful' is not a value of state of wallet"),
    ("spent + open > 1", "expected int, but this is bool"),
    ("matches(code, pine)", "must name a policy"),
    ("pin == code", "'pin' is a policy"),
    ("eval('1')", "unknown function 'eval'"),
    ("len(code, code) > 1", "len() takes 1 argument"),
    ("spent in 3", "needs a list"),
    ("a.b.c", "too many parts"),
    ("spent", "expected bool"),
])
def test_errors_name_the_problem(source: str, words: str) -> None:
    with pytest.raises(ExprError) as info:
        tree = ex.parse(source)
        ex.check(tree, SCOPE, BOOL)
    assert words in str(info.value) + info.value.hint


def test_error_offsets_point_at_the_culprit() -> None:
    with pytest.raises(ExprError) as info:
        ex.check(ex.parse("open and spend > 1"), SCOPE)
    assert info.value.offset == len("open and ")


def test_long_expressions_are_refused() -> None:
    with pytest.raises(ExprError, match="longer than"):
        ex.parse("1 + " * 1000 + "1")


def test_policy_checker_classes() -> None:
    check = ex.policy_checker(Policy("p", 6, 30, ("digit", "letter"), ("digit", "letter")))
    assert check("abc123") and check("ABC123") and check("a1" * 15)
    assert not check("abc12") and not check("a1" * 15 + "x")
    assert not check("abcdef") and not check("123456") and not check("abc 123")
    assert not check("abc_123") and not check("ａｂｃ123")


names = st.sampled_from(["spent", "amount", "card.uses", "wallet.spent"])
ints = st.integers(0, 50).map(str)
terms = st.recursive(
    st.one_of(names, ints),
    lambda inner: st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"),
    max_leaves=6)
conditions = st.recursive(
    st.tuples(terms, st.sampled_from(["<", "<=", "==", "!=", ">", ">="]), terms).map(" ".join),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or", "implies"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda s: f"not ({s})")),
    max_leaves=5)


@given(conditions)
def test_unparse_round_trips(source: str) -> None:
    tree, _ = ex.check(ex.parse(source), SCOPE, BOOL)
    again, _ = ex.check(ex.parse(ex.unparse(tree)), SCOPE, BOOL)
    assert ex.unparse(again) == ex.unparse(tree)
    assert run(ex.unparse(tree)) == run(source)


def test_int_bounds_follow_from_operands() -> None:
    _, typ = ex.check(ex.parse("spent + amount"), SCOPE, INT)
    assert (typ.min, typ.max) == (1, 400)


@pytest.mark.parametrize(("source", "offset", "words"), [
    ("(" * 200 + "spent < 3" + ")" * 200, 32, "nests more than 32 levels deep"),
    ("spent < " + "-" * 1900 + "3", 40, "nests more than 32 levels deep"),
    ("not " * 400 + "open", 128, "nests more than 32 levels deep"),
    ("open implies " * 100 + "open", 416, "nests more than 32 levels deep"),
    ("spent < 1" + " + 1" * 400, 1360, "more than 64 operations deep"),
    ("spent < 1" + " + 1" * 63, 12, "more than 64 operations deep"),
    ("spent == 1" + " or spent == 1" * 70, 121, "more than 64 operations deep"),
    ("spent < 1234567890123456789", 8, "an integer of 19 digits; the limit is 18"),
])
def test_deep_or_huge_expressions_are_located_errors(source: str, offset: int,
                                                     words: str) -> None:
    """Refused while parsing, without recursing (no RecursionError, however deep)."""
    with pytest.raises(ExprError, match=words) as info:
        ex.parse(source)
    assert info.value.offset == offset
    assert info.value.hint


def test_expressions_at_the_depth_limits_are_fine() -> None:
    assert run("(" * 30 + "spent > 3" + ")" * 30)
    assert run("spent < 1" + " + 1" * 61) is False


@pytest.mark.parametrize("source", ["[1, 2] == [1]", "[amount] != [1]", "len([1]) > 0",
                                    "spent in [[1]]", "[open]"])
def test_a_list_is_only_the_right_side_of_in(source: str) -> None:
    with pytest.raises(ExprError, match="a list may only follow 'in' or 'not in'"):
        ex.check(ex.parse(source), SCOPE)
