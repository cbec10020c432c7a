"""The ordering rules, on plain data: hookpipe.core.ordering imports nothing from Django."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookpipe.core.ordering import (
    INGRESS,
    MAIN,
    Ordering,
    Problem,
    TweenDecl,
    order_tweens,
    pull,
)


def names(result: Ordering) -> list[str]:
    assert result.ok, result.errors
    return list(result.order)


def problems(result: Ordering) -> list[Problem]:
    return [e.problem for e in result.errors]


def test_module_is_pure() -> None:
    import ast
    from pathlib import Path

    import hookpipe.core.ordering as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not any(name.startswith(("django", "hookpipe", ".")) for name in imported)


def test_empty() -> None:
    assert names(order_tweens([])) == []


def test_no_hints_keeps_declaration_order() -> None:
    decls = [TweenDecl(n) for n in "abcde"]
    assert names(order_tweens(decls)) == list("abcde")


def test_over_main_goes_to_the_bottom() -> None:
    decls = [TweenDecl("a", over=(MAIN,)), TweenDecl("b"), TweenDecl("c")]
    assert names(order_tweens(decls)) == ["b", "c", "a"]


def test_several_over_main_keep_their_declaration_order() -> None:
    decls = [TweenDecl("x", over=(MAIN,)), TweenDecl("a"), TweenDecl("y", over=(MAIN,))]
    assert names(order_tweens(decls)) == ["a", "x", "y"]


def test_over_a_name() -> None:
    decls = [TweenDecl("a"), TweenDecl("b"), TweenDecl("c", over=("a",))]
    # a must wait for c; b is free and declared before c, so b goes first.
    assert names(order_tweens(decls)) == ["b", "c", "a"]


def test_under_ingress_explicitly_pulls_to_the_top() -> None:
    decls = [TweenDecl("a"), TweenDecl("b"), TweenDecl("c", under=(INGRESS,))]
    assert names(order_tweens(decls)) == ["c", "a", "b"]


def test_sentinel_pull_yields_to_name_hints() -> None:
    decls = [
        TweenDecl("low", over=(MAIN,)),
        TweenDecl("a"),
        TweenDecl("b", under=("low",)),
    ]
    # low wants the bottom, but b must be under low; a is free and goes first.
    assert names(order_tweens(decls)) == ["a", "low", "b"]


def test_both_sentinel_hints_cancel_out() -> None:
    decls = [TweenDecl("a"), TweenDecl("both", under=(INGRESS,), over=(MAIN,)), TweenDecl("c")]
    assert names(order_tweens(decls)) == ["a", "both", "c"]


def test_under_a_name() -> None:
    decls = [TweenDecl("a", under=("c",)), TweenDecl("b"), TweenDecl("c")]
    assert names(order_tweens(decls)) == ["b", "c", "a"]


def test_tie_break_is_lexicographically_smallest_by_index() -> None:
    decls = [TweenDecl("a", under=("c",)), TweenDecl("b"), TweenDecl("c"), TweenDecl("d")]
    assert names(order_tweens(decls)) == ["b", "c", "a", "d"]


def test_fallback_list_skips_absent_names() -> None:
    decls = [TweenDecl("a"), TweenDecl("b", under=("missing", "a"))]
    assert names(order_tweens(decls)) == ["a", "b"]
    decls = [TweenDecl("a"), TweenDecl("b", over=("missing", MAIN))]
    assert names(order_tweens(decls)) == ["a", "b"]


def test_fallback_list_uses_every_present_name() -> None:
    decls = [TweenDecl("x"), TweenDecl("y"), TweenDecl("z", under=("y", "x", "nope"))]
    assert names(order_tweens(decls)) == ["x", "y", "z"]
    decls = [TweenDecl("z", under=("y", "x")), TweenDecl("x"), TweenDecl("y")]
    assert names(order_tweens(decls)) == ["x", "y", "z"]


def test_both_hints() -> None:
    decls = [
        TweenDecl("outer"),
        TweenDecl("inner"),
        TweenDecl("mid", under=("outer",), over=("inner",)),
    ]
    assert names(order_tweens(decls)) == ["outer", "mid", "inner"]


@pytest.mark.parametrize(
    ("decl", "problem"),
    [
        (TweenDecl("a", over=(INGRESS,)), Problem.OVER_INGRESS),
        (TweenDecl("a", over=("b", INGRESS)), Problem.OVER_INGRESS),
        (TweenDecl("a", under=(MAIN,)), Problem.UNDER_MAIN),
        (TweenDecl("a", under=("missing",)), Problem.MISSING_TARGET),
        (TweenDecl("a", over=("missing", "gone")), Problem.MISSING_TARGET),
        (TweenDecl(INGRESS), Problem.RESERVED_NAME),
        (TweenDecl(MAIN), Problem.RESERVED_NAME),
    ],
)
def test_errors(decl: TweenDecl, problem: Problem) -> None:
    result = order_tweens([decl])
    assert not result.ok
    assert result.order == ()
    assert problems(result) == [problem]
    assert result.errors[0].name == decl.name


def test_missing_target_error_carries_the_hint() -> None:
    error = order_tweens([TweenDecl("a", over=("x", "y"))]).errors[0]
    assert (error.hint, error.names) == ("over", ("x", "y"))


def test_duplicate_name() -> None:
    result = order_tweens([TweenDecl("a"), TweenDecl("b"), TweenDecl("a")])
    assert problems(result) == [Problem.DUPLICATE_NAME]


def test_two_node_cycle_is_named() -> None:
    decls = [TweenDecl("auth", over=("timing",)), TweenDecl("timing", over=("auth",))]
    result = order_tweens(decls)
    assert problems(result) == [Problem.CYCLE]
    assert result.errors[0].cycle_text == "auth -> timing -> auth"


def test_longer_cycle_reads_in_over_direction() -> None:
    # a over b, b over c, c over a: each name in the message is over the next.
    decls = [
        TweenDecl("b", over=("c",)),
        TweenDecl("c", over=("a",)),
        TweenDecl("a", over=("b",)),
        TweenDecl("free"),
    ]
    error = order_tweens(decls).errors[0]
    assert error.cycle_text == "a -> b -> c -> a"


def test_cycle_through_under_hints() -> None:
    # a under c means c over a: the message reads a -> b -> c -> a as over-relations.
    decls = [
        TweenDecl("a", under=("c",)),
        TweenDecl("b", under=("a",)),
        TweenDecl("c", under=("b",)),
    ]
    assert order_tweens(decls).errors[0].cycle_text == "a -> b -> c -> a"


def test_explicit_order_follows_the_list_and_ignores_hints() -> None:
    decls = [TweenDecl("a", over=(MAIN,)), TweenDecl("b", under=("a",)), TweenDecl("c")]
    result = order_tweens(decls, ["b", "a"])
    assert result.explicit
    assert names(result) == ["b", "a"]


def test_explicit_order_accepts_a_factory_path() -> None:
    decls = [TweenDecl("alias", factory="pkg.factory"), TweenDecl("other", factory="pkg.o")]
    assert names(order_tweens(decls, ["pkg.factory", "other"])) == ["alias", "other"]


def test_explicit_order_factory_path_used_twice_is_ambiguous() -> None:
    decls = [TweenDecl("one", factory="pkg.f"), TweenDecl("two", factory="pkg.f")]
    result = order_tweens(decls, ["pkg.f"])
    assert problems(result) == [Problem.UNKNOWN_IN_ORDER]


@pytest.mark.parametrize(
    ("explicit", "problem"),
    [
        (["a", "nope"], Problem.UNKNOWN_IN_ORDER),
        ([INGRESS, "a"], Problem.UNKNOWN_IN_ORDER),
        (["a", "a"], Problem.DUPLICATE_IN_ORDER),
    ],
)
def test_explicit_order_errors(explicit: list[str], problem: Problem) -> None:
    result = order_tweens([TweenDecl("a")], explicit)
    assert problems(result) == [problem]


def test_explicit_order_still_reports_duplicate_names() -> None:
    result = order_tweens([TweenDecl("a"), TweenDecl("a")], ["a"])
    assert Problem.DUPLICATE_NAME in problems(result)


def test_explicit_empty_order_runs_nothing() -> None:
    assert names(order_tweens([TweenDecl("a")], [])) == []


# ----------------------------------------------------------------- properties

NAMES = [f"t{i}" for i in range(7)]


@st.composite
def declarations(draw: st.DrawFn) -> list[TweenDecl]:
    count = draw(st.integers(min_value=0, max_value=len(NAMES)))
    chosen = NAMES[:count]
    targets = st.sampled_from([*NAMES, "absent", INGRESS, MAIN])
    hint = st.lists(targets, min_size=0, max_size=3).map(tuple)
    return [TweenDecl(name, over=draw(hint), under=draw(hint)) for name in chosen]


def satisfies(order: list[str], decls: list[TweenDecl]) -> bool:
    position = {INGRESS: -1, MAIN: len(order)} | {n: i for i, n in enumerate(order)}
    for decl in decls:
        for target in decl.over:
            if target in position and not position[decl.name] < position[target]:
                return False
        for target in decl.under:
            if target in position and not position[target] < position[decl.name]:
                return False
    return True


def is_valid_input(decls: list[TweenDecl]) -> bool:
    present = {d.name for d in decls} | {INGRESS, MAIN}
    for decl in decls:
        if INGRESS in decl.over or MAIN in decl.under:
            return False
        for hint in (decl.over, decl.under):
            if hint and not any(t in present for t in hint):
                return False
    return True


@settings(max_examples=300, deadline=None)
@given(declarations())
def test_every_order_satisfies_every_constraint(decls: list[TweenDecl]) -> None:
    result = order_tweens(decls)
    if result.ok:
        assert sorted(result.order) == sorted(d.name for d in decls)
        assert satisfies(list(result.order), decls)
    else:
        kinds = set(problems(result))
        if kinds == {Problem.CYCLE}:
            # A cycle really is there: no permutation satisfies the hints.
            assert is_valid_input(decls)
            assert not any(
                satisfies(list(p), decls) for p in itertools.permutations(d.name for d in decls)
            )
        else:
            assert not is_valid_input(decls)


@settings(max_examples=150, deadline=None)
@given(declarations())
def test_order_is_the_smallest_valid_permutation(decls: list[TweenDecl]) -> None:
    result = order_tweens(decls)
    if not result.ok or len(decls) > 6:
        return
    key = {d.name: (pull(d), i) for i, d in enumerate(decls)}
    valid = [
        list(p) for p in itertools.permutations(d.name for d in decls) if satisfies(list(p), decls)
    ]
    smallest = min(valid, key=lambda p: [key[n] for n in p])
    assert list(result.order) == smallest


@settings(max_examples=100, deadline=None)
@given(st.permutations(NAMES))
def test_without_hints_order_is_declaration_order(order: list[str]) -> None:
    assert names(order_tweens([TweenDecl(n) for n in order])) == order


def test_a_cycle_is_reported_with_the_other_errors() -> None:
    decls = [
        TweenDecl("auth", over=("timing",)),
        TweenDecl("timing", over=("auth",)),
        TweenDecl("csrf", under=("absent",)),
    ]
    result = order_tweens(decls)
    assert sorted(p.value for p in problems(result)) == ["cycle", "missing_target"]
