"""Product x channel assortment (产品与渠道复合管理) and SKU distribution (铺货率).

- :class:`AssortmentPlan`: which products to list in which segment (channel type, or
  region x channel type) under shelf, range, must-carry, listing-fee and
  cannibalisation rules;
- :func:`sku_distribution`: numeric and weighted distribution of each product given
  which outlets are reached and what is listed where;
- :func:`cells_from_catalogue` / :func:`carried_lines`: inputs from a network, a
  product catalogue and a distributor plan.
"""

from .cells import carried_lines, cells_from_catalogue
from .distribution import SkuDistribution, sku_distribution
from .listing import AssortmentPlan

__all__ = ["AssortmentPlan", "SkuDistribution", "carried_lines", "cells_from_catalogue", "sku_distribution"]
