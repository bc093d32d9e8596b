"""Validated assortment cells and settings, as arrays (checked once, used by the build and the checks)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import SettingsError, ValidationError, format_ids
from ..network import CHANNELS

__all__ = ["REQUIRED", "Cells", "suggest"]

REQUIRED = ("channel", "product_id", "category", "volume", "margin", "listing_fee", "shelf_units")
_NON_NEGATIVE = ("volume", "listing_fee", "shelf_units")
_UNITS = {"volume": "units sold in the segment", "margin": "money per unit", "listing_fee": "money",
          "shelf_units": "shelf units (facings) per outlet"}


def suggest(name, known) -> str:
    """`` (did you mean 'x'?)`` for the nearest known name, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Cells:
    """The cells table as arrays: segment, product and category numbers per row.

    A segment is a channel type, or a (region_id, channel) pair when the cells carry
    ``region_id``.
    """

    def __init__(self, cells, *, where: str = "cells") -> None:
        if not isinstance(cells, pd.DataFrame):
            raise SettingsError(f"{where} must be a pandas DataFrame with columns {list(REQUIRED)}, got "
                                f"{type(cells).__name__}.")
        if not len(cells):
            raise ValidationError(f"{where} is empty: give one row per segment x product.")
        missing = [c for c in REQUIRED if c not in cells.columns]
        if missing:
            hints = "".join(f" '{m}'{suggest(m, cells.columns)}" for m in missing)
            raise ValidationError(f"{where} lacks column(s) {missing}:{hints}. Each row needs channel (and "
                                  f"optionally region_id), product_id, category, volume, margin (per unit), "
                                  f"listing_fee and shelf_units.", column=missing[0])
        self.frame = cells
        self.by_region = "region_id" in cells.columns
        self.keys = ["region_id", "channel"] if self.by_region else ["channel"]
        labels = cells.index
        for col in (*self.keys, "product_id", "category"):
            bad = cells[col].isna().to_numpy()
            if bad.any():
                raise ValidationError(f"{where}.{col} is missing at rows {format_ids(labels[bad])}; every row "
                                      f"needs a {col}.", column=col, ids=labels[bad])
        num = {}
        for col in ("volume", "margin", "listing_fee", "shelf_units"):
            arr = pd.to_numeric(cells[col], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(arr)
            if col in _NON_NEGATIVE:
                bad |= arr < 0
            if bad.any():
                need = "a non-negative finite number" if col in _NON_NEGATIVE else "a finite number"
                raise ValidationError(f"{where}.{col} ({_UNITS[col]}) must be {need}; rows "
                                      f"{format_ids(labels[bad])} are not (e.g. {cells[col][bad].iloc[0]!r}).",
                                      column=col, ids=labels[bad])
            num[col] = arr
        self.volume, self.margin = num["volume"], num["margin"]
        self.fee, self.shelf = num["listing_fee"], num["shelf_units"]
        self.n = len(cells)
        seg = pd.MultiIndex.from_frame(cells[self.keys]) if self.by_region else pd.Index(cells["channel"])
        self.segment_keys = list(pd.unique(seg))
        self.seg = pd.Index(self.segment_keys).get_indexer(seg) if self.by_region else \
            pd.Index(self.segment_keys).get_indexer(cells["channel"])
        dup = pd.Series(list(zip(self.seg.tolist(), cells["product_id"].tolist()))).duplicated(keep=False).to_numpy()
        if dup.any():
            rows = labels[dup]
            raise ValidationError(f"{where} lists a product twice in one segment ({' x '.join(self.keys)} x "
                                  f"product_id) at rows {format_ids(rows)}; keep one row per segment and product "
                                  f"(e.g. cells.drop_duplicates({[*self.keys, 'product_id']})).",
                                  column="product_id", ids=rows)
        self.product = cells["product_id"].to_numpy()
        self.category = cells["category"].to_numpy()
        self.channel = cells["channel"].to_numpy()
        self.region = cells["region_id"].to_numpy() if self.by_region else None
        self.products = list(pd.unique(self.product))
        self.categories = list(pd.unique(self.category))
        self.channels = list(pd.unique(self.channel))
        self.prod = pd.Index(self.products).get_indexer(self.product)
        self.cat = pd.Index(self.categories).get_indexer(self.category)
        self.n_seg = len(self.segment_keys)
        self.seg_channel = np.array([k[1] if self.by_region else k for k in self.segment_keys], dtype=object)
        self.value = self.volume * self.margin - self.fee

    def segment_frame(self) -> pd.DataFrame:
        """One row per segment with its key columns."""
        if self.by_region:
            return pd.DataFrame(self.segment_keys, columns=self.keys)
        return pd.DataFrame({"channel": self.segment_keys})

    # ------------------------------------------------------------ settings as arrays
    def per_segment(self, name: str, value, *, unit: str) -> np.ndarray:
        """A number per segment from a scalar, ``{channel: x}`` or ``{(region_id, channel): x}`` (inf = none)."""
        out = np.full(self.n_seg, math.inf)
        if value is None:
            return out
        if not isinstance(value, Mapping):
            out[:] = _number(name, value, unit)
            return out
        by_channel = {}
        by_segment = {}
        seg_pos = {k: i for i, k in enumerate(self.segment_keys)}
        for key, v in value.items():
            if key in set(self.channels) and not isinstance(key, tuple):
                by_channel[key] = _number(f"{name}[{key!r}]", v, unit)
            elif self.by_region and isinstance(key, tuple) and key in seg_pos:
                by_segment[seg_pos[key]] = _number(f"{name}[{key!r}]", v, unit)
            elif not isinstance(key, tuple) and key in CHANNELS:
                _number(f"{name}[{key!r}]", v, unit)  # a known channel type these cells do not hold: no rows
            else:
                what = "a channel or a (region_id, channel) segment" if self.by_region else "a channel"
                raise SettingsError(f"{name} names {key!r}, which is not {what} of the cells"
                                    f"{suggest(key, self.channels)}; channels: {format_ids(self.channels)}.")
        for ch, v in by_channel.items():
            out[self.seg_channel == ch] = v
        for s, v in by_segment.items():
            out[s] = v
        return out

    def products_in(self, name: str, products) -> list:
        unknown = [p for p in products if p not in set(self.products)]
        if unknown:
            raise SettingsError(f"{name} names product(s) {format_ids(unknown)} that no cell has"
                                f"{suggest(unknown[0], self.products)}; known products: {format_ids(self.products)}.")
        return list(products)


def _number(name: str, value, unit: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a number of {unit}, got {value!r}.") from None
    if math.isnan(v) or v < 0:
        raise SettingsError(f"{name} must be a non-negative number of {unit}, got {value!r}.")
    return v


def as_pairs(name: str, value) -> list[tuple]:
    """A list of 2-tuples from a sequence of pairs."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise SettingsError(f"{name} must be a list of (channel, channel) pairs, got {value!r}.")
    out = []
    for item in value:
        try:
            a, b = item
        except (TypeError, ValueError):
            raise SettingsError(f"{name} must hold (channel, channel) pairs, got {item!r}.") from None
        out.append((a, b))
    return out
