"""Chinese names render in charts and the report: no "Glyph missing" warnings."""

from __future__ import annotations

import os
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import channelopt as co  # noqa: E402
from channelopt.fonts import find_cjk_font  # noqa: E402

if find_cjk_font() is None:  # pragma: no cover - depends on the machine
    if os.environ.get("CI"):
        pytest.fail("no CJK font on the CI machine: .ci/run installs fonts-noto-cjk", pytrace=False)
    pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)", allow_module_level=True)


def _chinese_plan():
    outlets = pd.DataFrame({"outlet_id": ["华联超市", "老王面馆", "仁和药房", "张记杂货店"],
                            "lon": [121.44, 121.48, 120.16, 120.21], "lat": [31.19, 31.23, 30.27, 30.25],
                            "channel": ["传统渠道", "餐饮", "药房", "传统渠道"], "potential": [5.0, 3.0, 2.0, 4.0],
                            "region_id": ["上海市", "上海市", "杭州市", "杭州市"]})
    dists = pd.DataFrame({"distributor_id": ["申通商贸", "杭城食品"], "lon": [121.4, 120.2], "lat": [31.25, 30.3],
                          "fixed_cost": [10.0, 8.0], "capacity": [100.0, 100.0]})
    net = co.read_network({"outlets": outlets, "distributors": dists})
    return co.DistributorSelection(objective="min_cost").solve(net)


def _glyph_warnings(record) -> list[str]:
    return [str(w.message) for w in record if "Glyph" in str(w.message) or "missing from font" in str(w.message)]


def test_chart_with_chinese_names_has_no_missing_glyphs(tmp_path):
    plan = _chinese_plan()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ax = plan.plot()
        ax.set_title("渠道覆盖 上海市 杭州市")
        ax.figure.savefig(tmp_path / "map.png")
        plt.close(ax.figure)
        ax = co.viz.plot_breadth_depth(plan, label=5)
        ax.figure.savefig(tmp_path / "bd.png")
        plt.close(ax.figure)
    assert _glyph_warnings(record) == []


def test_report_with_chinese_names_has_no_missing_glyphs(tmp_path):
    plan = _chinese_plan()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        path = plan.to_html(tmp_path / "r.html")
    assert _glyph_warnings(record) == []
    assert "申通商贸" in path.read_text(encoding="utf-8")
