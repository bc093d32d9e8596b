"""A synthetic price list for an example network (generated, labelled synthetic)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["synthetic_price_cells"]

# Per channel: unit cost, national list price, elasticity (magnitudes), volume per unit of potential.
_CHANNEL_ECONOMICS = {
    "traditional": (30.0, 42.0, 1.8),
    "modern_ka": (30.0, 40.0, 2.2),
    "catering": (31.0, 46.0, 1.4),
    "pharmacy": (32.0, 52.0, 1.2),
    "convenience": (31.0, 48.0, 1.6),
    "community": (30.0, 44.0, 1.7),
}


def synthetic_price_cells(network, *, seed: int = 0, province_spread: float = 0.06, region_spread: float = 0.03,
                          band: tuple[float, float] = (0.8, 1.2), channels=None) -> pd.DataFrame:
    """A **synthetic** current price list: one cell per region x channel of ``network``.

    Prices drift by province (``province_spread``) and region (``region_spread``)
    around a national list price per channel, the way price lists drift when each
    province negotiates its own, so neighbouring regions across a province border
    often differ by more than it costs to move goods between them.

    Parameters
    ----------
    network : ChannelNetwork
        Reads ``regions`` (``region_id``, optional ``province``) and ``outlets``
        (``region_id``, ``channel``, ``potential``) for the volumes.
    seed : int
        Random seed.
    province_spread, region_spread : float
        Standard deviation of the province and region price factors (shares).
    band : (float, float)
        ``price_min`` and ``price_max`` as shares of the current price.
    channels : sequence of str, optional
        Channels to price (default: the six channel types).

    Returns
    -------
    DataFrame
        ``region_id``, ``channel``, ``unit_cost``, ``base_price``, ``current_price``,
        ``base_volume``, ``elasticity``, ``price_min``, ``price_max``, ``source``
        (always ``"synthetic"``).

    Examples
    --------
    >>> import channelopt as co
    >>> cells = co.synthetic_price_cells(co.load_example("china"))
    >>> cells.shape, cells["source"].unique().tolist()
    ((2040, 10), ['synthetic'])
    """
    rng = np.random.default_rng(seed)
    chans = list(_CHANNEL_ECONOMICS) if channels is None else list(channels)
    unknown = [c for c in chans if c not in _CHANNEL_ECONOMICS]
    if unknown:
        from ..exceptions import SettingsError

        raise SettingsError(f"synthetic_price_cells knows channels {list(_CHANNEL_ECONOMICS)}, not {unknown}.")
    regions = network.regions
    ids = regions["region_id"].to_numpy(dtype=object)
    province = regions["province"].to_numpy(dtype=object) if "province" in regions.columns else ids
    provs = pd.unique(province)
    prov_factor = dict(zip(provs.tolist(), rng.normal(0.0, province_spread, len(provs)).tolist()))
    region_factor = np.array([prov_factor[p] for p in province.tolist()]) + rng.normal(0.0, region_spread, len(ids))
    if network.outlets is not None:
        pot = network.outlets.groupby(["region_id", "channel"])["potential"].sum()
    else:
        pot = pd.Series(dtype=float)
    ref = float(pot.mean()) if len(pot) else 1.0
    rows = []
    for ch in chans:
        cost, price, e = _CHANNEL_ECONOMICS[ch]
        for r, f in zip(ids.tolist(), region_factor.tolist()):
            current = round(price * (1.0 + f), 2)
            volume = 1000.0 * (0.2 + float(pot.get((r, ch), 0.0)) / ref)
            rows.append((r, ch, cost, current, current, round(volume, 1), e, round(current * band[0], 2),
                         round(current * band[1], 2), "synthetic"))
    return pd.DataFrame(rows, columns=["region_id", "channel", "unit_cost", "base_price", "current_price",
                                       "base_volume", "elasticity", "price_min", "price_max", "source"])
