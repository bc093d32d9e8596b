"""Partner evaluation and tiering (渠道绩效评估, 分层分级): DEA efficiency, scorecards, tiers.

``PartnerEvaluation`` rates partners by data envelopment analysis, ``scorecard`` by
weighted KPIs, ``assign_tiers`` sorts them into tiers, and ``evaluate_partners`` does
all of it from a :class:`~channelopt.ChannelNetwork` (and a sales history). Tiers feed
the plan through ``selection_settings`` (DistributorSelection ``keep`` / ``exclude``)
and ``incentive_cells`` (a BudgetAllocation of an incentive budget by tier).
"""

from .charts import attach_evaluation, plot_frontier, plot_tier_map, targets_table, tier_table
from .dea import PartnerEvaluation
from .kpis import evaluate_partners, partner_kpis
from .replan import incentive_cells, penalise_tiers, selection_settings
from .scorecard import scorecard
from .tiers import MATRIX_NAMES, assign_tiers

__all__ = [
    "MATRIX_NAMES",
    "PartnerEvaluation",
    "attach_evaluation",
    "assign_tiers",
    "evaluate_partners",
    "incentive_cells",
    "partner_kpis",
    "penalise_tiers",
    "plot_frontier",
    "plot_tier_map",
    "scorecard",
    "selection_settings",
    "targets_table",
    "tier_table",
]
