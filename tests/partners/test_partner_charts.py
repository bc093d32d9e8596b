"""Charts and tables of a partner evaluation, and the report hook."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import channelopt as co  # noqa: E402
from channelopt.partners import charts  # noqa: E402


def test_frontier_vertices_are_the_ccr_efficient_partners():
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"cost": rng.uniform(1, 5, 30), "a": rng.uniform(1, 9, 30), "b": rng.uniform(1, 9, 30)},
                      index=[f"p{i}" for i in range(30)])
    ev = df.join(co.PartnerEvaluation(inputs=["cost"], outputs=["a", "b"]).evaluate(df))
    ax = charts.plot_frontier(ev, input="cost", outputs=("a", "b"))
    line = [ln for ln in ax.get_lines() if ln.get_label() == "CRS frontier"][0]
    vertices = np.column_stack(line.get_data())[1:-1]      # without the drops to the axes
    ratios = np.column_stack([df["a"] / df["cost"], df["b"] / df["cost"]])
    on_hull = {df.index[int(np.argmin(np.abs(ratios - v).sum(axis=1)))] for v in vertices}
    efficient = set(ev.index[ev["efficiency"] == 1.0])
    # Every hull vertex is CCR-efficient, and every CCR-efficient partner with no slack is a vertex.
    assert on_hull <= efficient
    strict = {i for i in efficient if ev.loc[i, ["slack_a", "slack_b"]].abs().max() < 1e-9}
    assert strict <= on_hull
    assert len(on_hull) >= 2


def test_targets_and_tier_tables_by_hand():
    ev = pd.DataFrame({"efficiency": [1.0, 0.5, 0.8], "tier": ["A", "C", "B"], "sales": [10.0, 4.0, 8.0],
                       "target_sales": [10.0, 8.0, 10.0]}, index=["d1", "d2", "d3"])
    t = charts.targets_table(ev, ["sales"])
    assert t.index.tolist() == ["d2", "d3"]
    np.testing.assert_allclose(t["sales_change"], [1.0, 0.25])
    tt = charts.tier_table(ev, ["sales"])
    assert tt.loc["A", "partners"] == 1 and tt.loc["C", "sales"] == 4.0
    assert tt["share"].sum() == pytest.approx(1.0)


def test_report_shows_the_evaluation_when_attached(tmp_path):
    net = co.load_example("nc")
    ev = co.evaluate_partners(net, co.load_partner_history("nc"))
    plan = co.DistributorSelection(objective="min_cost").solve(net)
    plain = plan.to_html(tmp_path / "plain.html").read_text(encoding="utf-8")
    assert "partner-tiers" not in plain
    co.partners.attach_evaluation(plan, ev)
    page = plan.to_html(tmp_path / "tiers.html").read_text(encoding="utf-8")
    assert 'id="partner-tiers"' in page and 'id="partner-frontier"' in page
    assert "Partner tiers" in page and "table-partner_targets" in page
    ax = charts.plot_tier_map(ev, net)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    counts = ev["tier"].value_counts()
    assert labels == [f"tier {t} ({counts[t]})" for t in ev["tier"].cat.categories if counts.get(t, 0)]
