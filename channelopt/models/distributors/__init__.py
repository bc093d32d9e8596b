"""DistributorSelection: which distributors to sign and which outlets each serves.

The decision's files, by job:

* :mod:`.selection` -- the model: settings, checks, strategy choice, plan extraction;
* :mod:`.formulation` -- the MILP (variables, rows, objective);
* :mod:`.built` -- the built model's ``solve``: strategy, heuristic floor, restricted candidates;
* :mod:`.lagrangian` -- the Lagrangian strategy (bound, rounding, narrowed MIP);
* :mod:`.warm_start` -- heuristic first plans;
* :mod:`.restricted` -- full-problem bounds and widening for ``candidates``;
* :mod:`.plan` -- plan assembly; :mod:`.channels` -- channel-portfolio search.
"""

from .plan import selection_plan
from .selection import DistributorSelection

__all__ = ["DistributorSelection", "selection_plan"]
