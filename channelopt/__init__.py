"""channelopt: channel coverage planning as mixed-integer optimisation.

Distributor selection, territory design and budget allocation as MILPs in PuLP,
solved by HiGHS (default) or CBC, with breadth/depth metrics on every plan.
"""

import logging

from . import partners, pricing, report, viz
from ._progress import set_verbosity
from .assortment import AssortmentPlan, sku_distribution
from .comparison import compare, pareto_front
from .datasets import load_example, load_partner_history, load_product_catalogue, make_synthetic
from .exceptions import (
    ChannelOptError,
    InfeasibleError,
    NoSolutionError,
    NotOptimalWarning,
    PathNotFoundError,
    SettingsError,
    SolverError,
    ValidationError,
)
from .io import read_network, write_template
from .metrics import Metrics
from .models.budget import BudgetAllocation, cells_from_network
from .models.distributors import DistributorSelection
from .models.joint import JointPlanner
from .models.territories import TerritoryDesign
from .network import CHANNELS, ChannelNetwork
from .partners import PartnerEvaluation, assign_tiers, evaluate_partners, scorecard
from .plan import Plan
from .planner import ChannelPlanner
from .pricing import PricePlan, diversion_costs, diversion_risk, synthetic_price_cells
from .response import Hill, Logarithmic, PointsCurve, ResponseCurve, SaturatingExponential, fit_response
from .scenarios import Scenario, compare_results, load_scenarios, run_scenarios
from .solver import SolveInfo, Solver

logging.getLogger(__name__).addHandler(logging.NullHandler())

__version__ = "0.1.0"

__all__ = [
    "pricing", "report", "viz", "set_verbosity",
    "PricePlan", "diversion_costs", "diversion_risk", "synthetic_price_cells",
    "partners", "PartnerEvaluation", "assign_tiers", "evaluate_partners", "scorecard", "load_partner_history",
    "ChannelPlanner", "JointPlanner", "Scenario", "compare_results", "load_scenarios", "pareto_front", "run_scenarios",
    "BudgetAllocation", "cells_from_network", "Hill", "Logarithmic", "PointsCurve", "ResponseCurve",
    "SaturatingExponential", "fit_response",
    "CHANNELS",
    "ChannelNetwork",
    "ChannelOptError",
    "DistributorSelection",
    "InfeasibleError",
    "Metrics",
    "NoSolutionError",
    "NotOptimalWarning",
    "PathNotFoundError",
    "Plan",
    "SettingsError",
    "SolveInfo",
    "Solver",
    "SolverError",
    "TerritoryDesign",
    "ValidationError",
    "compare",
    "load_example",
    "make_synthetic",
    "read_network",
    "write_template",
    "AssortmentPlan", "sku_distribution", "load_product_catalogue",
]
