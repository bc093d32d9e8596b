"""Exclusive territories: one folder, one job per module.

- :mod:`.design` -- :class:`TerritoryDesign`, its settings and the build/solve contract;
- :mod:`.data` -- settings checked against the network, turned into arrays;
- :mod:`.labelling`, :mod:`.pmedian` -- the two formulations;
- :mod:`.contiguity` -- flow rows, separator cuts, connected pieces;
- :mod:`.heuristics`, :mod:`.allocation` -- construction, local search, location-allocation;
- :mod:`.repair` -- balance repair of a connected plan past a bound; :mod:`.moves` -- the objective's change
  when one border region moves (the local search and the repair price moves with it);
- :mod:`.search` -- how a built model is solved inside one time limit;
- :mod:`.bounds` -- bounds valid for the problem asked; :mod:`.diagnosis` -- infeasibility messages;
- :mod:`.planar` -- on planar maps: first plans carved along dual cycles, the dual-cycle cut-edge bound;
- :mod:`.improve` -- a plan's cut edges lowered by re-splitting groups of neighbouring territories (planar maps);
- :mod:`.columns` -- the set-partitioning cut-edge bound by column generation (opt-in stage);
- :mod:`.assembly` -- the Plan; :mod:`.callbacks` -- what HiGHS 1.16's MIP callbacks allow.
"""

from .design import TerritoryDesign

__all__ = ["TerritoryDesign"]
