"""Pricing: price corridors against diversion (窜货), channel price ladders and rebates (返利).

- :class:`PricePlan` chooses a wholesale price per region x channel cell;
- :func:`diversion_risk` lists the borders where moving goods pays at given prices;
- :func:`diversion_costs` prices moving goods between adjacent regions from a network;
- :func:`synthetic_price_cells` makes a labelled synthetic price list for an example network.
"""

from .charts import plot_diversion_risk, plot_price_ladder
from .diversion import diversion_costs, diversion_risk
from .model import PricePlan
from .synthetic import synthetic_price_cells

__all__ = ["PricePlan", "diversion_costs", "diversion_risk", "synthetic_price_cells", "plot_diversion_risk",
           "plot_price_ladder"]
