"""Risk map, price ladder and the report hook on a real (geographic) example network."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import channelopt as co  # noqa: E402


@pytest.fixture(scope="module")
def china_part():
    net = co.load_example("china")
    return net.subset(net.region_ids[:40].tolist())


def test_risk_map_draws_one_red_edge_per_risky_border(china_part):
    cells = co.synthetic_price_cells(china_part, seed=1)
    current = cells.assign(price=cells["current_price"])
    cost = co.diversion_costs(china_part, per_km=0.01, handling=1.0)
    risk = co.diversion_risk(current, cost)
    assert len(risk)
    ax = co.pricing.plot_diversion_risk(china_part, risk)
    red = [c for c in ax.collections if len(c.get_edgecolor()) and np.allclose(c.get_edgecolor()[:, :3], [1, 0, 0])]
    borders = {frozenset(p) for p in zip(risk["from_region"], risk["to_region"])}
    assert len(red) == 1 and len(red[0].get_segments()) == len(borders)
    plt.close("all")


def test_report_of_a_price_plan_has_the_risk_map_and_the_ladder(china_part, tmp_path):
    cells = co.synthetic_price_cells(china_part, seed=1)
    plan = co.PricePlan(cells=cells, diversion_cost={"per_km": 0.01, "handling": 1.0}).solve(
        china_part, solver=co.Solver("highs"))
    assert co.diversion_risk(plan.prices, plan.tables["diversion_cost"]).empty
    html = plan.to_html(tmp_path / "prices.html").read_text(encoding="utf-8")
    assert 'id="diversion-risk"' in html and 'id="price-ladder"' in html
    ax = co.pricing.plot_price_ladder(plan.prices)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(
        plan.prices.groupby("channel")["net_price"].median().sort_values().index)
    plt.close("all")
