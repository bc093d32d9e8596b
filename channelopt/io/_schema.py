"""The columns of each input table, their Chinese header aliases, and header matching.

One table of truth shared by :func:`channelopt.read_network` (which renames aliases to
the canonical names) and the template writer (which writes the canonical names with the
aliases in a note).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import pandas as pd

from ..exceptions import ValidationError

__all__ = ["Column", "TABLES", "TABLE_ALIASES", "SEPARATOR", "canonical_headers", "alias_table"]

#: Separator of a distributor's channel list (``traditional;catering``). The full-width
#: ``；`` of a Chinese keyboard is read as the same.
SEPARATOR = ";"


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    aliases: tuple[str, ...]
    doc: str
    example: tuple = ()


_LON = ("经度", "longitude", "lng", "long")
_LAT = ("纬度", "latitude")
_REGION = ("区域", "区域编号", "区域id", "地区", "城市", "region")

#: table -> its columns, in template order. ``required`` is required on that table when
#: the table is given (lon/lat may be replaced by a geometry column).
TABLES: dict[str, tuple[Column, ...]] = {
    "outlets": (
        Column("outlet_id", True, ("网点编号", "网点id", "网点代码", "门店编号", "终端编号"),
               "unique id of the outlet (store, restaurant, pharmacy ...)", ("O001", "O002", "O003")),
        Column("name", False, ("网点名称", "门店名称", "名称"), "display name (Chinese is fine)",
               ("华联超市", "老王面馆", "仁和药房")),
        Column("lon", True, _LON, "longitude in degrees (WGS84), e.g. 121.47 for Shanghai",
               (121.47, 121.50, 120.16)),
        Column("lat", True, _LAT, "latitude in degrees (WGS84), e.g. 31.23 for Shanghai", (31.23, 31.20, 30.27)),
        Column("channel", True, ("渠道", "渠道类型", "业态"),
               "channel type: traditional, modern_ka, catering, pharmacy, convenience, community (or your own)",
               ("traditional", "catering", "pharmacy")),
        Column("potential", True, ("潜力", "销售潜力", "潜在销量", "年潜力"),
               "sales potential per year (currency)", (40000, 52000, 31000)),
        Column("region_id", False, _REGION, "region the outlet lies in (a city or district name)",
               ("上海", "上海", "杭州")),
        Column("workload", False, ("工作量",), "workload for balancing territories (default 1)", (1, 1, 1)),
        Column("demand", False, ("需求", "需求量"), "capacity used when served (default: potential)", ()),
        Column("visits_per_month", False, ("月拜访次数", "拜访频次"), "field visits per month", ()),
    ),
    "distributors": (
        Column("distributor_id", True, ("经销商编号", "经销商id", "经销商代码", "分销商编号"),
               "unique id of the candidate distributor", ("D01", "D02")),
        Column("name", False, ("经销商名称", "名称"), "display name", ("申通商贸", "杭城食品")),
        Column("lon", True, _LON, "longitude in degrees (WGS84) of the warehouse", (121.40, 120.20)),
        Column("lat", True, _LAT, "latitude in degrees (WGS84) of the warehouse", (31.25, 30.30)),
        Column("fixed_cost", True, ("固定费用", "固定成本", "签约费用"), "fixed cost of signing it for the period",
               (50000, 40000)),
        Column("capacity", True, ("容量", "产能", "最大容量"),
               "most demand it can serve (same unit as outlets.potential; 'inf' for no limit)", (500000, "inf")),
        Column("channels", False, ("经营渠道", "可服务渠道"),
               "channels it may serve, separated by ';' (empty = every channel)",
               ("traditional;catering", "traditional;pharmacy;catering")),
        Column("existing", False, ("现有", "已签约", "现有经销商"), "TRUE if already signed (default FALSE)",
               (True, False)),
        Column("min_load", False, ("最低负荷", "最小负荷", "最低销量"), "least demand worth opening it for", ()),
        Column("region_id", False, _REGION, "region it sits in (optional)", ()),
    ),
    "regions": (
        Column("region_id", True, _REGION + ("区域名称",), "unique id; outlets.region_id refers to it",
               ("上海", "杭州")),
        Column("name", False, ("名称",), "display name", ()),
        Column("lon", False, _LON, "longitude of the region's centre (default: mean of its outlets)", ()),
        Column("lat", False, _LAT, "latitude of the region's centre (default: mean of its outlets)", ()),
        Column("population", False, ("人口",), "any numeric column can be balanced by territories", (24.9, 12.4)),
    ),
    "edges": (
        Column("region_a", True, ("区域A", "区域1", "起点区域"), "a region", ("上海",)),
        Column("region_b", True, ("区域B", "区域2", "相邻区域"), "a region adjacent to region_a", ("杭州",)),
    ),
    "budget_cells": (
        Column("region_id", True, _REGION, "region of the cell", ("上海",)),
        Column("channel", False, ("渠道", "渠道类型"), "channel of the cell", ("traditional",)),
        Column("activity", False, ("活动", "费用类型"), "activity (promotion, display ...)", ("promotion",)),
        Column("spend_points", True, ("投入点", "费用点"), "spends separated by ';', e.g. 0;10000;20000",
               ("0;10000;20000",)),
        Column("response_points", True, ("响应点", "销量点"), "responses at those spends, e.g. 0;8000;12000",
               ("0;8000;12000",)),
        Column("min_spend", False, ("最低投入",), "least spend if funded", ()),
        Column("max_spend", False, ("最高投入",), "most spend", ()),
        Column("fixed_cost", False, ("固定费用", "启动费用"), "cost of activating the cell", ()),
    ),
}

#: Accepted names of each table (sheet, file, layer or SQL table).
TABLE_ALIASES: dict[str, tuple[str, ...]] = {
    "outlets": ("outlets", "网点", "门店", "终端"),
    "distributors": ("distributors", "经销商", "分销商"),
    "regions": ("regions", "区域"),
    "edges": ("edges", "邻接", "相邻区域"),
    "budget_cells": ("budget_cells", "预算", "预算单元"),
}

#: Columns that may stand in for lon/lat.
GEOMETRY = "geometry"


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-（）()]+", "", str(text)).lower()


def alias_table(table: str) -> dict[str, str]:
    """``{normalised header: canonical name}`` for one table."""
    out: dict[str, str] = {}
    for col in TABLES[table]:
        out[_norm(col.name)] = col.name
        for alias in col.aliases:
            out.setdefault(_norm(alias), col.name)
    return out


def canonical_headers(frame: pd.DataFrame, table: str, where: str, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """A copy of ``frame`` with canonical column names; unknown headers raise.

    Raises
    ------
    ValidationError
        A header that matches no column (with the nearest valid names), or two headers
        meaning the same column.
    """
    lookup = alias_table(table)
    valid = [c.name for c in TABLES[table]]
    rename: dict[str, str] = {}
    seen: dict[str, str] = {}
    keep_norm = {_norm(k) for k in keep}
    for header in frame.columns:
        if header == GEOMETRY:
            continue
        key = _norm(header)
        if key in keep_norm:
            continue
        canon = lookup.get(key)
        if canon is None:
            choices = valid + [a for c in TABLES[table] for a in c.aliases]
            near = difflib.get_close_matches(str(header), choices, n=2, cutoff=0.4)
            near += [c for c in difflib.get_close_matches(key, list(lookup), n=2, cutoff=0.4)
                     if lookup[c] not in near]
            hint = f" Did you mean {near[0]!r}?" if near else ""
            raise ValidationError(
                f"{where}: column {str(header)!r} is not a known {table} column.{hint} Known columns: "
                f"{', '.join(valid)} (Chinese headers such as "
                f"{', '.join(a for c in TABLES[table] for a in c.aliases[:1])} are accepted). Rename it, or keep "
                f"it unchanged with read_network(..., keep_columns=[{str(header)!r}]).",
                column=str(header))
        if canon in seen:
            raise ValidationError(
                f"{where}: columns {seen[canon]!r} and {str(header)!r} both mean {canon!r}; keep one of them.",
                column=canon)
        seen[canon] = str(header)
        rename[header] = canon
    return frame.rename(columns=rename)
