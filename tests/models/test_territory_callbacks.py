"""What HiGHS 1.16's MIP callbacks allow from Python (the facts :mod:`...territories.callbacks` states).

If a highspy release starts firing the lazy-constraint callback or lets it pass rows
back, the first test fails: then the separator rows can move inside one search.
"""

from __future__ import annotations

import math

import highspy

from channelopt.models.territories.callbacks import probe


def test_lazy_constraint_callback_is_never_fired_and_cannot_return_rows():
    out = probe(inject=False)
    assert out["fired"]["lazy_constraints"] == 0
    # the search did run its callbacks: the user-solution hook fired on the same solve
    assert out["fired"]["user_solution"] > 0
    fields = set(out["input_fields"])
    assert fields == {"repairSolution", "setSolution", "user_has_solution", "user_interrupt", "user_solution"}
    assert not any("cut" in f or "constraint" in f or "row" in f for f in fields)
    assert highspy.Highs().version().startswith("1.16")


def test_user_solution_callback_feeds_a_plan_into_the_search():
    # root only, no primal heuristics: HiGHS finds no plan of its own ...
    alone = probe(inject=False)
    assert math.isnan(alone["objective"]) and alone["fired"]["improving_solution"] == 0
    # ... and returns one (at least as good as the one handed in) when the callback supplies it
    fed = probe(inject=True)
    assert fed["fired"]["improving_solution"] >= 1
    assert fed["objective"] <= fed["injected"] + 1e-9
