"""The one way stage plans combine into one solve info (ChannelPlanner, JointPlanner.solve_sequential)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .solver import SolveInfo

__all__ = ["combine_infos"]

_ORDER = ("optimal", "feasible")


def combine_infos(stages: Mapping[str, Any], solver) -> SolveInfo:
    """Solve info of a plan made of stages solved in turn: objective, bound and gap are ONE quantity.

    They are the last stage's objective, bound and gap, given the earlier stages'
    decisions; ``message`` says so. When an earlier stage stopped before proving its
    optimum, no bound holds for the plan: bound and gap are NaN and ``message`` names
    the stages. Status is the weakest stage status; seconds, sizes and build seconds add up.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> from channelopt.solver import Solver
    >>> a = NS(info=SolveInfo("highs", "feasible", "time_limit", 10.0, 8.0, 0.2, 1.0), status="feasible")
    >>> b = NS(info=SolveInfo("highs", "optimal", "optimal", 5.0, 5.0, 0.0, 2.0), status="optimal")
    >>> info = combine_infos({"first": a, "second": b}, Solver())
    >>> info.status, info.objective, info.bound, info.seconds
    ('feasible', 5.0, nan, 3.0)
    >>> "NaN because the first stage(s) stopped" in info.message
    True
    """
    names = list(stages)
    infos = [p.info for p in stages.values()]
    worst = max(infos, key=lambda i: _ORDER.index(i.status) if i.status in _ORDER else len(_ORDER))
    last_name, last = names[-1], infos[-1]
    unproven = [n for n in names[:-1] if stages[n].status != "optimal"]
    bound, gap = last.bound, last.gap
    message = (f"objective, bound and gap are the {last_name} stage's (given the earlier stages' decisions); "
               f"a plan solved in stages has no joint bound.")
    if unproven:
        bound = gap = math.nan
        message = (f"objective is the {last_name} stage's; bound and gap are NaN because the "
                   f"{', '.join(unproven)} stage(s) stopped before proving optimality (see plan.stages).")
    return SolveInfo(solver=solver.name, status=worst.status,
                     termination=",".join(f"{n}:{i.termination}" for n, i in zip(names, infos)),
                     objective=last.objective, bound=bound, gap=gap,
                     seconds=float(sum(i.seconds for i in infos)),
                     build_seconds=float(sum(i.build_seconds for i in infos if i.build_seconds == i.build_seconds)),
                     n_variables=sum(i.n_variables for i in infos), n_integer=sum(i.n_integer for i in infos),
                     n_constraints=sum(i.n_constraints for i in infos), time_limit=solver.time_limit,
                     mip_gap=solver.mip_gap, message=message)
