"""What HiGHS's MIP callbacks allow from Python, checked on the installed highspy.

Branch-and-cut for contiguity needs rows added *inside* one search: a lazy-constraint
callback that sees each new incumbent and adds the separator rows it breaks. Probed
on highspy 1.16.0 (``tests/models/test_territory_callbacks.py`` keeps these facts
true, and fails when a release changes them):

- ``kCallbackMipDefineLazyConstraints`` exists in the enum but is never fired, and
  ``HighsCallbackInput`` has no field to pass a row back (only ``user_interrupt``,
  ``user_solution``/``setSolution``, ``repairSolution``). Lazy separator rows are
  therefore added between solves (:mod:`.search`), each solve warm-started.
- ``kCallbackMipGetCutPool`` is fired and hands out HiGHS's own cut pool, read-only.
- ``kCallbackMipUserSolution`` is fired during the search and accepts a full
  solution through ``data_in.setSolution``: a heuristic incumbent can be fed into a
  running search. The solve path (``channelopt.solver``) owns the ``Highs`` object,
  so today the heuristic plan enters as the MIP start instead.
"""

from __future__ import annotations

import numpy as np

from ...exceptions import SolverError

__all__ = ["probe"]


def probe(*, inject: bool = True) -> dict:
    """Solve a small branching knapsack with every MIP callback subscribed; report what fired.

    Returns
    -------
    dict
        ``fired``: callback name -> times fired; ``input_fields``: the settable fields of
        ``HighsCallbackInput``; ``objective``: the plan HiGHS returns (NaN when none;
        it searches the root only, without heuristics); ``injected``: the objective of
        the plan handed in through ``kCallbackMipUserSolution`` (with ``inject``).

    Examples
    --------
    >>> out = probe()
    >>> out["fired"]["lazy_constraints"], out["objective"] <= out["injected"]
    (0, True)
    >>> import math; math.isnan(probe(inject=False)["objective"])
    True
    """
    import highspy

    from ...solver import _stdout_silenced

    with _stdout_silenced(True):
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    # an equality knapsack searched at its root only, without primal heuristics: HiGHS
    # finds no plan of its own, so a plan in the answer came through the callback
    h.setOptionValue("mip_heuristic_effort", 0.0)
    h.setOptionValue("mip_max_nodes", 1)
    h.setOptionValue("presolve", "off")
    rng = np.random.default_rng(0)
    n = 40
    w = rng.integers(1000, 3000, n).astype(float)
    v = rng.integers(5, 30, n).astype(float)
    x = (rng.random(n) < 0.4).astype(float)
    cap = float(w @ x)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, 1
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = -v, np.zeros(n), np.ones(n)
    lp.row_lower_, lp.row_upper_ = np.array([cap]), np.array([cap])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array([0, n], dtype=np.int32)
    lp.a_matrix_.index_ = np.arange(n, dtype=np.int32)
    lp.a_matrix_.value_ = w
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h.passModel(lp)
    fired = {"lazy_constraints": 0, "cut_pool": 0, "user_solution": 0, "improving_solution": 0}
    fields: list[str] = []

    def on(name):
        def handler(e):
            fired[name] += 1
            if name == "user_solution":
                fields[:] = [a for a in dir(e.data_in) if not a.startswith("_")]
                if inject and fired[name] == 1:
                    e.data_in.setSolution(x)

        return handler

    h.cbMipDefineLazyConstraints.subscribe(on("lazy_constraints"))
    h.cbMipGetCutPool.subscribe(on("cut_pool"))
    h.cbMipUserSolution.subscribe(on("user_solution"))
    h.cbMipImprovingSolution.subscribe(on("improving_solution"))
    status = h.run()
    if status == highspy.HighsStatus.kError:
        raise SolverError(f"HiGHS failed on the callback probe: {h.getModelStatus()}")
    has_plan = h.getInfo().primal_solution_status == 2
    return {
        "fired": fired,
        "input_fields": fields,
        "objective": float(h.getInfo().objective_function_value) if has_plan else float("nan"),
        "injected": float(-(v @ x)),
    }
