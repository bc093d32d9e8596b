"""Write the tutorial notebooks (outputs stripped) from the cell sources below.

Run ``python notebooks/_build_notebooks.py`` after editing a story; the test suite
executes every notebook (tests/test_notebooks.py), so keep each under two minutes.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import warnings
import matplotlib.pyplot as plt
import pandas as pd
import channelopt as co
pd.set_option("display.width", 140)
pd.set_option("display.max_columns", 14)"""

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_quickstart": [
        ("md", "# Quick start: load, solve, read the metrics, look at the map\n\n"
               "A channel manager wants to know which distributors to sign so that outlets across China are "
               "served at the lowest cost, and how broad (channels) and deep (outlets) the resulting coverage "
               "is. `channelopt` turns that into a mixed-integer programme, solves it with HiGHS, and returns "
               "a `Plan` with decisions, solve info and metrics."),
        ("code", SETUP),
        ("md", "## 1. Load the example network\n"
               "340 approximate prefecture regions, 8,000 synthetic outlets in six channel types, "
               "80 candidate distributors."),
        ("code", 'net = co.load_example("china")\nnet'),
        ("code", 'net.outlets[["outlet_id", "region_id", "channel", "potential"]].head()'),
        ("md", "## 2. Solve\n"
               "Keep today's 10 partners and sign 4 more, choosing those that reach the most demand within "
               "300 km (maximal covering). "
               "`candidates=` keeps only each outlet's nearest links when you want a full cost model fast."),
        ("code", 'model = co.DistributorSelection(objective="max_coverage", p=14, max_distance=300)\n'
                 'plan = model.solve(net, solver=co.Solver("highs", time_limit=60))\n'
                 'plan'),
        ("code", 'plan.status, plan.objective, plan.bound, plan.gap, round(plan.solve_seconds, 2)'),
        ("md", "## 3. Breadth and depth\n"
               "Numeric distribution counts outlets, weighted distribution weighs them by sales potential."),
        ("code", 'plan.summary()[["numeric_distribution", "weighted_distribution", "region_coverage", '
                 '"mean_channel_breadth", "open_distributors", "total_cost"]]'),
        ("code", 'plan.metrics.by_channel[["numeric_distribution", "weighted_distribution", "regions_reached"]]'),
        ("md", "## 4. The map\nRegions shaded by weighted distribution, signed distributors as red stars, "
               "candidates left out as grey crosses, service links as grey lines."),
        ("code", 'ax = plan.plot()\nplt.show()'),
        ("code", 'ax = co.viz.plot_breadth_depth(plan)\nplt.show()'),
        ("md", "## 5. Share it\n`plan.to_html(path)` writes a single self-contained page (maps, charts, "
               "solve info, tables); `plan.explore()` gives an interactive folium map in the notebook."),
        ("code", 'import tempfile, pathlib\n'
                 'report = plan.to_html(pathlib.Path(tempfile.mkdtemp()) / "china_plan.html")\n'
                 'report.name, report.stat().st_size > 100_000'),
        ("code", 'fmap = plan.explore(outlets=False)\nfmap'),
    ],
    "02_distributor_network": [
        ("md", "# The distributor network: the facility-location family on the China example\n\n"
               "Same data, different questions: what does full coverage cost (set cover)? how many partners "
               "for a fixed count (p-median)? how much demand can a fixed network reach (max coverage)? "
               "what if we must keep today's partners?"),
        ("code", SETUP),
        ("code", 'net = co.load_example("china")\n'
                 'solver = co.Solver("highs", time_limit=60)\n'
                 'print(net, "|", int(net.distributors["existing"].sum()), "existing partners")'),
        ("md", "## Max coverage for a growing number of partners\nHow weighted distribution grows with "
               "each extra signing (within 300 km), starting from a clean sheet (`keep_existing=False`)."),
        ("code", 'plans = {}\n'
                 'for p in (4, 8, 12, 16):\n'
                 '    plans[f"cover p={p}"] = co.DistributorSelection(\n'
                 '        objective="max_coverage", p=p, max_distance=300, keep_existing=False\n'
                 '    ).solve(net, solver=solver)\n'
                 'plans["keep 10 + sign 4"] = co.DistributorSelection(\n'
                 '    objective="max_coverage", p=14, max_distance=300).solve(net, solver=solver)\n'
                 'co.compare(plans)[["status", "gap", "weighted_distribution", "numeric_distribution", '
                 '"open_distributors", "fixed_cost"]]'),
        ("md", "## Minimum cost of serving every outlet\nFixed signing fees plus demand x distance service "
               "cost. `candidates=5` keeps each outlet's five nearest compatible distributors."),
        ("code", 'with warnings.catch_warnings():\n'
                 '    warnings.simplefilter("ignore", co.NotOptimalWarning)\n'
                 '    plans["min cost"] = co.DistributorSelection(objective="min_cost", candidates=5).solve(\n'
                 '        net, solver=solver)\n'
                 'plans["min cost"].summary()[["status", "gap", "open_distributors", "new_signings", '
                 '"fixed_cost", "service_cost", "mean_distance"]]'),
        ("code", 'ax = plans["min cost"].plot(coverage="numeric")\nplt.show()'),
        ("md", "## Which partners carry the load?"),
        ("code", 'd = plans["min cost"].distributors\n'
                 'd[d["open"]].sort_values("load", ascending=False).head(8)[\n'
                 '    ["distributor_id", "existing", "fixed_cost", "load", "outlets_served", "service_cost"]]'),
        ("md", "## Cost against reach\nEvery plan above on one chart; the red line joins the plans that no "
               "other plan beats on both cost and weighted distribution."),
        ("code", 'ax = co.viz.plot_pareto(plans)\nplt.show()'),
    ],
    "03_territory_design": [
        ("md", "# Territory design: contiguity, balance, locked regions, disruption\n\n"
               "Split the 100 North Carolina counties into sales territories that are connected, carry a "
               "balanced workload, and keep compact; then re-align with a few regions locked and a cap on "
               "how many counties change hands."),
        ("code", SETUP + '\nfrom channelopt.models.territories import TerritoryDesign'),
        ("code", 'net = co.load_example("nc")\n'
                 'solver = co.Solver("highs", time_limit=40, mip_gap=0.02)\n'
                 'net'),
        ("md", "## Four contiguous territories, workload within 10 % of the mean"),
        ("code", 'with warnings.catch_warnings():\n'
                 '    warnings.simplefilter("ignore", co.NotOptimalWarning)\n'
                 '    plan = TerritoryDesign(k=4, objective="compactness", contiguity=True,\n'
                 '                           balance={"workload": 0.10}, centre_candidates=25\n'
                 '                           ).solve(net, solver=solver)\n'
                 'plan.status, round(plan.gap, 4), plan.metrics["contiguity_verified"], '
                 'round(plan.metrics["max_deviation_workload"], 3)'),
        ("code", 'plan.territories[["regions", "workload", "workload_ratio", "connected", "cut_edges"]]'),
        ("code", 'fig, (a, b) = plt.subplots(1, 2, figsize=(14, 4.5))\n'
                 'plan.plot(ax=a)\nco.viz.plot_balance(plan, ax=b)\nplt.show()'),
        ("md", "## Re-alignment: lock two counties, change at most 6\n"
               "Start from the plan above as the current alignment, tighten balance to 5 %, and minimise "
               "disruption: the number of counties that move."),
        ("code", 'current = dict(zip(plan.assignments["region_id"], plan.assignments["territory"]))\n'
                 'locked = dict(list(current.items())[:2])\n'
                 'with warnings.catch_warnings():\n'
                 '    warnings.simplefilter("ignore", co.NotOptimalWarning)\n'
                 '    moved = TerritoryDesign(objective="disruption", current=current, locked=locked, max_changes=6,\n'
                 '                            contiguity=True, balance={"workload": 0.05}).solve(net, solver=solver)\n'
                 'moved.status, moved.metrics.overall.get("regions_changed"), '
                 'round(moved.metrics["max_deviation_workload"], 3)'),
        ("code", 'ax = co.viz.plot_balance(moved)\nplt.show()'),
    ],
    "04_budget_allocation": [
        ("md", "# Budget allocation: response curves, PWL vs true, activation costs, marginal ROI\n\n"
               "Spread a trade-marketing budget over region x channel x activity cells, each with a "
               "saturating response curve. Concave curves need no binaries; activation costs and minimum "
               "spends do."),
        ("code", SETUP),
        ("code", 'net = co.make_synthetic(8, 200, 3, seed=7)\n'
                 'curves = {"promotion": co.Hill(40.0, 25.0, 1.0), "display": co.Hill(25.0, 10.0, 1.0)}\n'
                 'cells = co.cells_from_network(net, curves)\n'
                 'cells["max_spend"] = 120.0\n'
                 'cells.head()'),
        ("md", "## Concave curves, a budget of 600"),
        ("code", 'plan = co.BudgetAllocation(total=300.0, cells=cells).solve(net)\n'
                 'plan.summary()[["status", "spend", "response", "roi", "marginal_roi", "marginal_roi_curves"]]'),
        ("md", "The model solves on a piecewise-linear (PWL) approximation; the plan reports the response on "
               "the true curves too, and the error bound."),
        ("code", 'm = plan.metrics\n'
                 'pd.Series({"true response": m["response"], "PWL response": m["pwl_response"],\n'
                 '           "PWL error": m["pwl_error"], "error bound": m["pwl_error_bound"]})'),
        ("code", 'left, right = co.viz.plot_response(plan)\nplt.show()'),
        ("md", "## Activation costs\nEach active cell now costs 15 up front, so thin spreads no longer pay."),
        ("code", 'with_fixed = cells.assign(fixed_cost=15.0)\n'
                 'plan_fixed = co.BudgetAllocation(total=300.0, cells=with_fixed).solve(net)\n'
                 'co.compare({"concave": plan, "activation 15": plan_fixed})[\n'
                 '    ["status", "active_cells", "spend", "fixed_cost", "response", "roi", "marginal_roi"]]'),
        ("code", 'left, right = co.viz.plot_response(plan_fixed)\nplt.show()'),
    ],
    "05_scenarios": [
        ("md", "# Scenarios: a batch, compare, Pareto, Dask\n\n"
               "Run a grid of what-ifs, store each result as it finishes, compare them in one table and "
               "keep the non-dominated ones. The same batch runs on a local Dask cluster by changing one "
               "argument."),
        ("code", SETUP + '\nimport tempfile'),
        ("code", 'recipe = {"synthetic": {"n_regions": 16, "n_outlets": 300, "n_distributors": 10, "seed": 5}}\n'
                 'scenarios = [co.Scenario(name=f"cover p={p} r={r // 1000}km", network=recipe,\n'
                 '                         params={"objective": "max_coverage", "p": p, "max_distance": r})\n'
                 '             for p in (1, 2, 3, 4) for r in (15_000, 25_000)]\n'
                 'len(scenarios)'),
        ("code", 'out = tempfile.mkdtemp()\n'
                 'results = co.run_scenarios(scenarios, out=out, executor="serial")\n'
                 'results[["name", "status", "weighted_distribution", "total_cost", "seconds"]]'),
        ("md", "## Compare and keep the Pareto front\nHigher weighted distribution, lower cost."),
        ("code", 'table = co.compare_results(out).set_index("name")\n'
                 'front = co.pareto_front(table.reset_index(), maximize=["weighted_distribution"], '
                 'minimize=["total_cost"])\n'
                 'front[["name", "weighted_distribution", "total_cost"]]'),
        ("code", 'ax = co.viz.plot_pareto(table)\nplt.show()'),
        ("md", "## The same batch on Dask\n`executor=\"dask\"` starts a private `LocalCluster` (or pass a "
               "scheduler address / a `Client`). Results already stored are skipped (`resume=True`), so "
               "here we write to a fresh folder."),
        ("code", 'dask_out = tempfile.mkdtemp()\n'
                 'on_dask = co.run_scenarios(scenarios[:4], out=dask_out, executor="dask", workers=2)\n'
                 'on_dask[["name", "status", "weighted_distribution"]]'),
        ("code", 'merged = on_dask.set_index("name")["weighted_distribution"].to_frame("dask").join(\n'
                 '    table["weighted_distribution"].rename("serial"))\n'
                 'assert (merged["dask"] - merged["serial"]).abs().max() < 1e-9\n'
                 'merged'),
    ],
    "07_partner_tiers": [
        ("md", "# Partner tiers (渠道绩效评估, 分层分级): evaluate -> tier -> re-plan -> compare\n\n"
               "Which of today's distributors perform well? Data envelopment analysis (DEA) compares each "
               "partner with the best combinations of the others: what it gets (sales, outlets served, "
               "weighted distribution of its area, growth) for what it uses (fixed cost, capacity, staff). "
               "Tiers then feed the plan: top-tier partners are kept, the lowest tier is not signed again, "
               "and an incentive budget is split by tier.\n\n"
               "**The partner history here is synthetic** (generated from the example network, seeded)."),
        ("code", SETUP),
        ("code", 'net = co.load_example("china")\n'
                 'history = co.load_partner_history("china")\n'
                 'print(history.attrs["source"])\n'
                 'history.head()'),
        ("md", "## 1. Evaluate\nVRS, output orientation: how much more could each partner sell with what it "
               "has, against partners of its own size. `efficiency` = 1 / `expansion`; 1 is on the frontier."),
        ("code", 'ev = co.evaluate_partners(net, history)\n'
                 'ev[["region_id", "fixed_cost", "staff", "sales", "outlets_served", "weighted_distribution",\n'
                 '    "growth", "efficiency", "expansion", "tier"]].sort_values("efficiency").head(8).round(3)'),
        ("code", 'co.partners.tier_table(ev, ["sales", "fixed_cost"]).round(3)'),
        ("md", "Peers are the frontier partners an inefficient partner is compared with (λ weights); targets "
               "say what it would have to reach."),
        ("code", 'worst = ev["efficiency"].idxmin()\n'
                 'ev.loc[worst, "peers"]'),
        ("code", 'co.partners.targets_table(ev, ["sales", "outlets_served", "weighted_distribution"], top=8).round(3)'),
        ("code", 'ax = co.partners.plot_frontier(ev, input="fixed_cost", outputs=("sales", "outlets_served"))\n'
                 'plt.show()'),
        ("code", 'ax = co.partners.plot_tier_map(ev, net)\nplt.show()'),
        ("md", "## 2. Other tiering rules\nABC on sales (80/15/5), a 2x2 efficiency x volume matrix, and a "
               "quota on the scorecard: at most 20% in A and 50% in B, the order of the scores kept as far "
               "as the quotas allow (a MILP)."),
        ("code", 'card = co.scorecard(ev, {"sales": 0.4, "growth": 0.2, "weighted_distribution": 0.2, '
                 '"fixed_cost": 0.2},\n'
                 '                    directions={"fixed_cost": "lower"})\n'
                 'rules = pd.DataFrame({\n'
                 '    "dea": ev["tier"],\n'
                 '    "abc_sales": co.assign_tiers(ev["sales"], method="abc"),\n'
                 '    "matrix": co.assign_tiers(ev["efficiency"], method="matrix", volume=ev["sales"]),\n'
                 '    "quota": co.assign_tiers(card["score"], method="quota",\n'
                 '                             quotas={"A": (None, 0.2), "B": (None, 0.5)}),\n'
                 '})\n'
                 '{name: rules[name].value_counts().to_dict() for name in rules}'),
        ("md", "## 3. Re-plan with the tiers\nThe baseline signs distributors at least cost (fixed + service, "
               "each outlet's 10 nearest links). The tiered plan must keep every A partner and may not sign "
               "any C partner."),
        ("code", 'settings = co.partners.selection_settings(ev, keep_tiers="A", exclude_tiers="C")\n'
                 'solver = co.Solver("highs", time_limit=60)\n'
                 'base = co.DistributorSelection(objective="min_cost", candidates=10).solve(net, solver=solver)\n'
                 'tiered = co.DistributorSelection(objective="min_cost", candidates=10, **settings).solve(\n'
                 '    net, solver=solver)\n'
                 'len(settings["keep"]), len(settings["exclude"])'),
        ("md", "## 4. Compare"),
        ("code", 'def open_tiers(plan):\n'
                 '    opened = plan.distributors.loc[plan.distributors["open"], "distributor_id"]\n'
                 '    return ev.loc[opened, "tier"].value_counts().to_dict(), ev.loc[opened, "sales"].sum()\n'
                 '\n'
                 'table = co.compare({"baseline": base, "tiered": tiered})[\n'
                 '    ["status", "gap", "open_distributors", "fixed_cost", "service_cost", "total_cost",\n'
                 '     "weighted_distribution", "mean_distance"]]\n'
                 'table["open_by_tier"] = [open_tiers(p)[0] for p in (base, tiered)]\n'
                 'table["sales_of_open_partners"] = [open_tiers(p)[1] for p in (base, tiered)]\n'
                 'table'),
        ("md", "## 5. An incentive budget by tier\nEach partner's incentive response saturates at its headroom "
               "(the gap to its DEA sales target, at least 5% of sales). Split 20 million: at least half to "
               "tier A, at most 10% to tier C."),
        ("code", 'cells = co.partners.incentive_cells(ev)\n'
                 'budget = co.BudgetAllocation(total=20e6, cells=cells,\n'
                 '                             channel_share={"A": (0.5, None), "C": (None, 0.1)}).solve()\n'
                 'spend = budget.allocations.groupby("channel", observed=True)["spend"].sum()\n'
                 'pd.DataFrame({"spend": spend, "share": spend / spend.sum()}).round(3)'),
        ("md", "## 6. The report\n`attach_evaluation` puts the tier table, targets and charts into the plan's "
               "HTML report."),
        ("code", 'import tempfile, pathlib\n'
                 'co.partners.attach_evaluation(tiered, ev)\n'
                 'page = tiered.to_html(pathlib.Path(tempfile.mkdtemp()) / "tiered_plan.html")\n'
                 'html = page.read_text(encoding="utf-8")\n'
                 '"partner-tiers" in html, "partner-frontier" in html'),
    ],
    "08_price_corridors": [
        ("md", "# Price corridors against diversion (窜货)\n\n"
               "When two neighbouring regions' prices differ by more than it costs to truck goods across the "
               "border, distributors move goods from the cheap side to the dear side. This story takes a "
               "**synthetic** current price list for the China example (prices drifted province by province), "
               "finds the borders at risk, then chooses prices that remove every profitable diversion and "
               "measures what those corridors cost in margin."),
        ("code", SETUP),
        ("md", "## 1. The current price list and its diversion risk\n"
               "Moving one unit costs 0.01 per km between the regions' representative points plus 1.0 handling. "
               "Volume at risk is the smaller side's volume in that channel."),
        ("code", 'net = co.load_example("china")\n'
                 'cells = co.synthetic_price_cells(net, seed=0)   # labelled synthetic: cells["source"]\n'
                 'cost = co.diversion_costs(net, per_km=0.01, handling=1.0)\n'
                 'current = cells.assign(price=cells["current_price"], volume=cells["base_volume"])\n'
                 'risk_before = co.diversion_risk(current, cost)\n'
                 'print(len(cells), "cells,", len(cost), "borders,", len(risk_before), "pair x channel at risk")\n'
                 'risk_before.head()'),
        ("code", 'ax = co.pricing.plot_diversion_risk(net, risk_before)\nplt.show()'),
        ("md", "## 2. Optimised prices, with and without corridors\n"
               "Linear demand through each cell's current point. `free` maximises margin cell by cell; "
               "`corridors` adds the diversion rule on every border and channel (both directions) and keeps "
               "modern KA between 4 below and level with traditional."),
        ("code", 'gaps = {("modern_ka", "traditional"): (-4.0, 0.0)}\n'
                 'free = co.PricePlan(cells=cells).solve(solver=co.Solver("highs"))\n'
                 'plan = co.PricePlan(cells=cells, diversion_cost=cost, channel_gaps=gaps).solve(solver=co.Solver("highs"))\n'
                 'plan'),
        ("code", 'current_margin = float(((current["price"] - current["unit_cost"]) * current["volume"]).sum())\n'
                 'risk_after = co.diversion_risk(plan.prices, cost)\n'
                 'risk_free = co.diversion_risk(free.prices, cost)\n'
                 'summary = pd.DataFrame({\n'
                 '    "margin": [current_margin, free.metrics["margin"], plan.metrics["margin"]],\n'
                 '    "pairs_at_risk": [len(risk_before), len(risk_free), len(risk_after)],\n'
                 '    "volume_at_risk": [risk_before["volume_at_risk"].sum(), risk_free["volume_at_risk"].sum(),\n'
                 '                       risk_after["volume_at_risk"].sum()],\n'
                 '}, index=["current", "free optimum", "with corridors"])\n'
                 'summary["margin_cost_of_corridors"] = free.metrics["margin"] - summary["margin"]\n'
                 'assert risk_after.empty\n'
                 'summary.round(0)'),
        ("md", "The PWL model's error bound: the true optimum lies within `pwl_error_bound` of the plan."),
        ("code", 'plan.summary()[["status", "objective", "pwl_error_bound", "binding_corridors", '
                 '"shadow_price_method"]]'),
        ("md", "## 3. Which corridors cost the most\nThe shadow price is the margin one more unit of allowed "
               "gap would earn (an LP dual)."),
        ("code", 'plan.corridors.query("binding").nlargest(8, "shadow_price")[\n'
                 '    ["kind", "from_region", "to_region", "channel", "value", "limit", "shadow_price"]]'),
        ("code", 'plan.prices[["region_id", "channel", "current_price", "price", "volume", "margin", "binding"]].head(8)'),
        ("code", 'ax = co.pricing.plot_price_ladder(plan.prices, compare=current)\nplt.show()'),
        ("code", 'ax = co.pricing.plot_diversion_risk(net, risk_after, title="After: no border at risk")\nplt.show()'),
    ],
    "09_assortment": [
        ("md", "# KA listing under a fee budget, and the SKU distribution (铺货率) it buys\n\n"
               "Modern trade (KA) chains charge a listing fee (进场费) per SKU and store. A channel manager with a "
               "fixed fee budget decides which SKUs to list in which city's KA stores: hero SKUs are must-carry, "
               "each category gets a range, shelf space is limited, and two SKUs of the same kind take sales "
               "from each other. A product listed in a city's KA must also be in its traditional trade "
               "(the distributor stocks it there too). The product catalogue is **synthetic**."),
        ("code", SETUP),
        ("md", "## 1. Network and catalogue\n"
               "30 beverage SKUs in five categories; fees and shelf space per channel type; pairs that "
               "cannibalise (rate x the smaller product's margin in a segment)."),
        ("code", 'net = co.load_example("china")\n'
                 'cat = co.load_product_catalogue("china")\n'
                 'print(cat["products"].attrs["note"])\n'
                 'cat["products"][["product_id", "name", "category", "line", "margin", "shelf_units"]].head(8)'),
        ("code", 'cat["channels"]'),
        ("code", 'from channelopt.assortment import cells_from_catalogue\n'
                 'cells, pairs = cells_from_catalogue(net, cat, by="region", channels=["modern_ka", "traditional"])\n'
                 'fees = cells.groupby("channel")["listing_fee"].sum()\n'
                 'print(len(cells), "cells (region x channel x SKU);", len(pairs), "cannibalising pairs;",\n'
                 '      f"listing every SKU in every KA city would cost {fees[\'modern_ka\']:,.0f} yuan")'),
        ("md", "## 2. The listing under a 1 million yuan fee budget"),
        ("code", 'shelf = dict(zip(cat["channels"]["channel"], cat["channels"]["shelf_capacity"]))\n'
                 'categories = sorted(cat["products"]["category"].unique())\n'
                 'solver = co.Solver("highs", time_limit=60, mip_gap=0.001)\n'
                 'def listing(budget):\n'
                 '    return co.AssortmentPlan(\n'
                 '        cells=cells, shelf_capacity=shelf,\n'
                 '        must_carry={"modern_ka": ["TEA-01", "WAT-01"]},\n'
                 '        category_range={c: (0, 3) for c in categories},\n'
                 '        listing_budget=budget, cannibalisation=pairs,\n'
                 '        channel_rules=[("modern_ka", "traditional")],\n'
                 '    ).solve(net, solver=solver)\n'
                 'plan = listing(1.0e6)\n'
                 'plan'),
        ("code", 'plan.summary()[["status", "gap", "net_margin", "listing_fees", "cannibalisation_loss", '
                 '"listed_cells", "sku_numeric_distribution", "sku_weighted_distribution", "range_breadth"]]'),
        ("md", "Range per channel (mean SKUs listed per city) and per category:"),
        ("code", 'plan.metrics.by_channel.round(1)'),
        ("code", 'plan.by_category.round(1)'),
        ("md", "Every rule holds in the plan itself (checked here, not taken from the solver):"),
        ("code", 'a = plan.assortment\n'
                 'used = a[a["listed"]].groupby(["region_id", "channel"])["shelf_units"].sum()\n'
                 'assert (used <= used.index.get_level_values("channel").map(shelf)).all()\n'
                 'assert a.loc[a["listed"], "listing_fee"].sum() <= 1.0e6\n'
                 'assert a.loc[(a["channel"] == "modern_ka") & a["product_id"].isin(["TEA-01", "WAT-01"]), "listed"].all()\n'
                 'ka = a[a["channel"] == "modern_ka"].set_index(["region_id", "product_id"])["listed"]\n'
                 'trad = a[a["channel"] == "traditional"].set_index(["region_id", "product_id"])["listed"]\n'
                 'assert (~ka | trad.reindex(ka.index, fill_value=False)).all()\n'
                 'print("shelf, budget, must-carry and KA -> traditional rules hold")'),
        ("md", "## 3. The SKU distribution it buys\n"
               "An outlet carries a SKU when the SKU is listed in its city x channel and a distributor reaches "
               "the outlet. With every outlet reached:"),
        ("code", 'names = cat["products"].set_index("product_id")["name"]\n'
                 'sku = plan.sku_distribution.assign(name=lambda d: d["product_id"].map(names))\n'
                 'sku.sort_values("weighted_distribution", ascending=False)[\n'
                 '    ["product_id", "name", "outlets_carrying", "numeric_distribution", "weighted_distribution"]].head(10).round(3)'),
        ("md", "Only outlets a signed distributor serves can carry anything. With the 14-partner network of the "
               "quick start (max coverage within 300 km):"),
        ("code", 'partners = co.DistributorSelection(objective="max_coverage", p=14, max_distance=300).solve(\n'
                 '    net, solver=co.Solver("highs", time_limit=60))\n'
                 'reached = co.sku_distribution(plan.assortment, partners)\n'
                 'pd.DataFrame({"every outlet reached": plan.metrics.overall, "14 partners": reached.overall}).loc[\n'
                 '    ["reached_outlets", "sku_numeric_distribution", "sku_weighted_distribution", "range_breadth"]]'),
        ("md", "## 4. More fee budget: more range, more distribution, less margin per yuan"),
        ("code", 'rows = []\n'
                 'for budget in (0.5e6, 1.0e6, 2.0e6, 3.0e6):\n'
                 '    p = plan if budget == 1.0e6 else listing(budget)\n'
                 '    m = p.metrics\n'
                 '    rows.append({"budget": budget, "status": p.status, "fees": m["listing_fees"],\n'
                 '                 "net_margin": m["net_margin"], "ka_range": m.by_channel.loc["modern_ka", "mean_range"],\n'
                 '                 "sku_wd": m["sku_weighted_distribution"], "sku_nd": m["sku_numeric_distribution"]})\n'
                 'sweep = pd.DataFrame(rows).set_index("budget")\n'
                 'sweep.round(3)'),
        ("code", 'from channelopt.fonts import use_cjk_font\n'
                 'use_cjk_font()  # Chinese SKU names and titles render\n'
                 'fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))\n'
                 '(sweep["net_margin"] / 1e6).plot(ax=ax1, marker="o")\n'
                 'ax1.set(xlabel="KA fee budget (yuan)", ylabel="net margin (million yuan)", title="Margin")\n'
                 'sweep[["sku_wd", "sku_nd"]].plot(ax=ax2, marker="o")\n'
                 'ax2.set(xlabel="KA fee budget (yuan)", ylabel="mean SKU distribution", title="铺货率 bought")\n'
                 'plt.tight_layout()\nplt.show()'),
        ("code", 'ka = plan.sku_by_channel.query("channel == \'modern_ka\'").assign(name=lambda d: d["product_id"].map(names))\n'
                 'ax = ka.set_index("name")["weighted_distribution"].sort_values().plot.barh(figsize=(7, 8))\n'
                 'ax.set(xlabel="weighted distribution in KA", title="KA 铺货率 per SKU, 1 million yuan of fees")\n'
                 'plt.tight_layout()\nplt.show()'),
    ],
    "06_own_data": [
        ("md", "# Your own data: from an empty folder to a workbook you can forward\n\n"
               "A channel manager's data lives in Excel. This notebook starts from an empty folder, writes the "
               "input template, fills it with 30 outlets and 6 distributors in five cities of the Yangtze delta "
               "(Chinese names throughout), reads it with `co.read_network`, plans, and writes an Excel workbook "
               "and an HTML report. The same workbook solves from the command line: "
               "`channelopt solve scenario.toml --excel plan.xlsx` with `network = {path = \"mydata.xlsx\"}`."),
        ("code", SETUP + "\nimport tempfile, time\nfrom pathlib import Path\nimport numpy as np\n"
                 "t0 = time.perf_counter()\nfolder = Path(tempfile.mkdtemp())\nsorted(folder.iterdir())"),
        ("md", "## 1. The template\n"
               "`co.write_template` (or `channelopt template mydata.xlsx`) writes a README sheet and the sheets "
               "`outlets`, `distributors`, `regions`, `edges` with English headers; each header's note gives the "
               "Chinese alias that is accepted too (网点编号, 经度, 纬度, 渠道, 潜力, 区域, 经销商编号, 固定费用, 容量, "
               "经营渠道 ...)."),
        ("code", 'path = co.write_template(folder / "mydata.xlsx")\n'
                 'pd.read_excel(path, sheet_name="outlets")'),
        ("md", "## 2. Fill it in\n"
               "Here the sheets are filled from code (you would type or paste into Excel). Coordinates are GPS "
               "degrees; potentials are yuan a year. Without a `regions` sheet, regions come from `region_id`; "
               "we drop the example's regions and edges to show that."),
        ("code", 'rng = np.random.default_rng(7)\n'
                 'cities = {"上海": (121.47, 31.23), "杭州": (120.16, 30.27), "苏州": (120.62, 31.30),\n'
                 '          "南京": (118.80, 32.06), "宁波": (121.55, 29.87)}\n'
                 'kinds = [("超市", "modern_ka"), ("便利店", "convenience"), ("药房", "pharmacy"),\n'
                 '         ("面馆", "catering"), ("杂货店", "traditional"), ("社区店", "community")]\n'
                 'rows = []\n'
                 'for i in range(30):\n'
                 '    city = list(cities)[i % 5]\n'
                 '    lon, lat = cities[city]\n'
                 '    word, channel = kinds[i % 6]\n'
                 '    rows.append({"网点编号": f"W{i + 1:03d}", "网点名称": f"{city}{word}{i // 6 + 1}号",\n'
                 '                 "经度": round(lon + rng.normal(0, 0.08), 4), "纬度": round(lat + rng.normal(0, 0.06), 4),\n'
                 '                 "渠道": channel, "潜力": int(rng.lognormal(10.6, 0.5)), "区域": city})\n'
                 'outlets = pd.DataFrame(rows)\n'
                 'distributors = pd.DataFrame({\n'
                 '    "经销商编号": ["J01", "J02", "J03", "J04", "J05", "J06"],\n'
                 '    "经销商名称": ["申城商贸", "西湖食品", "姑苏分销", "金陵物流", "甬港贸易", "长三角快消"],\n'
                 '    "经度": [121.40, 120.20, 120.60, 118.85, 121.50, 120.50],\n'
                 '    "纬度": [31.25, 30.30, 31.32, 32.04, 29.90, 30.80],\n'
                 '    "固定费用": [60000, 45000, 40000, 42000, 38000, 90000],\n'
                 '    "容量": [400000, 350000, 300000, 400000, 450000, "inf"],\n'
                 '    "经营渠道": ["modern_ka;convenience;catering", "traditional;community;pharmacy;catering;convenience",\n'
                 '             "", "", "", ""],          # empty: every channel\n'
                 '    "现有": ["是", "否", "否", "否", "否", "否"]})\n'
                 'readme = pd.read_excel(path, sheet_name="README")\n'
                 'with pd.ExcelWriter(path, engine="openpyxl") as xw:   # the filled workbook: README kept\n'
                 '    readme.to_excel(xw, sheet_name="README", index=False)\n'
                 '    outlets.to_excel(xw, sheet_name="outlets", index=False)\n'
                 '    distributors.to_excel(xw, sheet_name="distributors", index=False)\n'
                 'outlets.head()'),
        ("md", "## 3. Read it\n"
               "Chinese headers are mapped to channelopt's columns; ids are text; distances are km. A mistake "
               "(a swapped longitude/latitude, an unknown channel such as `traditional;KA`, a duplicate id) stops "
               "here with the sheet, the column, the ids and the fix."),
        ("code", 'net = co.read_network(path)\n'
                 'print(net)\n'
                 'net.regions.drop(columns="geometry")'),
        ("code", 'bad = outlets.copy()\n'
                 'bad.loc[3, ["经度", "纬度"]] = bad.loc[3, ["纬度", "经度"]].to_numpy()   # swapped by mistake\n'
                 'try:\n'
                 '    co.read_network({"outlets": bad, "distributors": distributors})\n'
                 'except co.ValidationError as err:\n'
                 '    print(err)'),
        ("md", "## 4. Plan\n"
               "Which distributors to sign so that every outlet is served within capacity, channel rules and "
               "120 km, at the least fixed plus service cost (service: 2 % of an outlet's potential per 100 km, "
               "the default `cost_per_km`; set your own)."),
        ("code", 'model = co.DistributorSelection(objective="min_cost", capacitated=True, max_distance=120)\n'
                 'plan = model.solve(net)\n'
                 'print(plan.status, f"{plan.objective:,.0f}", f"gap {plan.gap:.2%}")\n'
                 'plan.distributors.query("open")'),
        ("md", "## 5. A workbook to forward, a report, a map\n"
               "`plan.to_excel` writes a `summary` sheet (status, objective, bound, gap, time, breadth and depth "
               "metrics) and one sheet per table, with number formats, frozen headers and fitted widths."),
        ("code", 'xlsx = plan.to_excel(folder / "渠道方案.xlsx")\n'
                 'import openpyxl\n'
                 'print(openpyxl.load_workbook(xlsx).sheetnames)\n'
                 'pd.read_excel(xlsx, sheet_name="summary").head(12)'),
        ("code", 'ax = plan.plot()\n'
                 'ax.set_title("长三角经销商方案");'),
        ("code", 'report = plan.to_html(folder / "report.html")\n'
                 'print(f"empty folder -> workbook and report in {time.perf_counter() - t0:.1f} s:",\n'
                 '      sorted(p.name for p in folder.iterdir()))'),
        ("md", "Real boundaries: with the optional extra `channelopt[cnmaps]`, "
               "`channelopt.boundaries.with_boundaries(net, level=\"city\")` swaps the derived region points "
               "for city polygons (joined by name: 杭州 matches 杭州市) and lists the names that match nothing."),
    ],
}


def build(directory: Path = HERE) -> list[Path]:
    """Write every notebook with empty outputs; return their paths."""
    paths = []
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                                 for kind, src in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        path = directory / f"{name}.ipynb"
        nbformat.validate(nb)
        nbformat.write(nb, path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in build():
        print(p)
