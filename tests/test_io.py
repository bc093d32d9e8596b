"""read_network from real files (xlsx, CSV, Parquet, GeoPackage, SQLite), Excel out, template."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest

import channelopt as co
from channelopt.exceptions import ChannelOptError, ValidationError
from channelopt.geo import haversine_km
from channelopt.io import frames_to_excel, plan_to_excel, write_template

OUTLETS = pd.DataFrame({
    "outlet_id": ["O1", "O2", "O3", "O4", "O5", "O6"],
    "name": ["华联超市", "老王面馆", "好邻居便利店", "仁和药房", "张记杂货店", "城东小卖部"],
    "lon": [121.44, 121.48, 121.52, 120.16, 120.21, 120.59],
    "lat": [31.19, 31.23, 31.24, 30.27, 30.25, 31.30],
    "channel": ["modern_ka", "catering", "traditional", "pharmacy", "traditional", "traditional"],
    "potential": [480000.0, 52000.0, 36000.0, 31000.0, 40000.0, 28000.0],
    "region_id": ["上海", "上海", "上海", "杭州", "杭州", "苏州"],
})
DISTS = pd.DataFrame({
    "distributor_id": ["D1", "D2", "D3"],
    "name": ["申通商贸", "杭城食品", "姑苏分销"],
    "lon": [121.40, 120.20, 120.62],
    "lat": [31.25, 30.30, 31.32],
    "fixed_cost": [60000.0, 40000.0, 35000.0],
    "capacity": [800000.0, 300000.0, 300000.0],
    "channels": ["modern_ka;catering;traditional", "traditional;pharmacy", ""],
})
# The same columns under their documented Chinese headers.
ZH_OUTLETS = {"outlet_id": "网点编号", "name": "网点名称", "lon": "经度", "lat": "纬度", "channel": "渠道",
              "potential": "潜力", "region_id": "区域"}
ZH_DISTS = {"distributor_id": "经销商编号", "name": "经销商名称", "lon": "经度", "lat": "纬度",
            "fixed_cost": "固定费用", "capacity": "容量", "channels": "经营渠道"}


def _check_network(net: co.ChannelNetwork) -> None:
    assert sorted(net.outlet_ids.tolist()) == OUTLETS["outlet_id"].tolist()
    assert sorted(net.region_ids.tolist()) == ["上海", "杭州", "苏州"]
    assert net.distance_unit == "km"
    # Distances are haversine km between the given coordinates, computed here independently.
    o = net.outlets.set_index("outlet_id").loc["O4"]
    d = net.distributors.set_index("distributor_id").loc["D2"]
    i = net.outlet_ids.tolist().index("O4")
    j = net.distributor_ids.tolist().index("D2")
    expected = float(haversine_km(120.16, 30.27, 120.20, 30.30))
    assert net.distances()[i, j] == pytest.approx(expected, rel=1e-9)
    assert o["potential"] == 31000.0 and d["fixed_cost"] == 40000.0
    # D3's empty channel list serves every channel; D2 only traditional and pharmacy.
    compat = pd.DataFrame(net.compatibility, index=net.outlet_ids, columns=net.distributor_ids)
    assert compat["D3"].all()
    assert compat["D2"].to_dict() == {k: k in ("O3", "O4", "O5", "O6") for k in net.outlet_ids}


def _solve_and_roundtrip(net, tmp_path):
    plan = co.DistributorSelection(objective="min_cost").solve(net)
    path = plan.to_excel(tmp_path / "plan.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:2] == ["summary", "assignments"]
    summary = {r[0]: r[1] for r in book["summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["status"] == plan.status == "optimal"
    assert summary["objective"] == pytest.approx(plan.objective)
    ws = book["assignments"]
    header = [c.value for c in ws[1]]
    rows = pd.DataFrame(list(ws.iter_rows(min_row=2, values_only=True)), columns=header)
    expected = plan.assignments
    assert rows["outlet_id"].tolist() == expected["outlet_id"].tolist()
    assert rows["distributor_id"].tolist() == expected["distributor_id"].tolist()
    assert ws.freeze_panes == "A2"
    # Chinese text survives the round trip.
    opened = book["distributors"]
    names = [r[0] for r in opened.iter_rows(min_row=2, values_only=True)]
    assert names == plan.distributors.reset_index()["distributor_id"].tolist()
    return plan


def test_xlsx_with_chinese_headers_reads_solves_and_writes_excel(tmp_path):
    path = tmp_path / "mydata.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        OUTLETS.rename(columns=ZH_OUTLETS).to_excel(xw, sheet_name="网点", index=False)
        DISTS.rename(columns=ZH_DISTS).to_excel(xw, sheet_name="distributors", index=False)
    before = pd.read_excel(path, sheet_name=None)
    net = co.read_network(path)
    _check_network(net)
    assert net.regions["derived"].all()  # no regions sheet: derived from region_id
    # regions sit at the mean position of their outlets
    sh = net.regions.set_index("region_id").loc["上海"]
    assert (sh["lon"], sh["lat"]) == pytest.approx((np.mean([121.44, 121.48, 121.52]), np.mean([31.19, 31.23, 31.24])))
    plan = _solve_and_roundtrip(net, tmp_path)
    # An independent check of the min-cost optimum: every outlet by its cheapest compatible open set.
    costs = net.costs()
    compat = net.compatibility
    fixed = net.distributors["fixed_cost"].to_numpy()
    best = np.inf
    for mask in range(1, 8):
        open_ = np.array([(mask >> j) & 1 for j in range(3)], bool)
        c = np.where(compat & open_[None, :], costs, np.inf).min(axis=1)
        best = min(best, c.sum() + fixed[open_].sum())
    assert plan.objective == pytest.approx(best, rel=1e-9)
    after = pd.read_excel(path, sheet_name=None)
    assert all(before[k].equals(after[k]) for k in before)  # the file is not changed


def test_csv_and_parquet_folders(tmp_path):
    csv = tmp_path / "csv"
    csv.mkdir()
    # Excel on a Chinese Windows saves CSV as GBK: read it too.
    OUTLETS.rename(columns=ZH_OUTLETS).to_csv(csv / "outlets.csv", index=False, encoding="gbk")
    DISTS.to_csv(csv / "distributors.csv", index=False, encoding="utf-8-sig")
    _check_network(co.read_network(csv))
    pq = tmp_path / "pq"
    pq.mkdir()
    OUTLETS.to_parquet(pq / "outlets.parquet")
    DISTS.to_parquet(pq / "distributors.parquet")
    pd.DataFrame({"region_a": ["上海", "苏州"], "region_b": ["苏州", "杭州"]}).to_parquet(pq / "edges.parquet")
    net = co.read_network(pq)
    _check_network(net)
    assert sorted(map(sorted, net.graph.edges())) == [["上海", "苏州"], ["杭州", "苏州"]]
    _solve_and_roundtrip(net, tmp_path)


def test_geopackage_layers_with_polygon_regions(tmp_path):
    from shapely.geometry import box

    path = tmp_path / "net.gpkg"
    regions = gpd.GeoDataFrame({"region_id": ["上海", "杭州", "苏州"]},
                               geometry=[box(121.0, 30.9, 122.0, 31.5), box(119.5, 29.9, 120.45, 31.0),
                                         box(120.45, 30.9, 121.0, 31.6)], crs="EPSG:4326")
    outlets = gpd.GeoDataFrame(OUTLETS.drop(columns=["lon", "lat"]),
                               geometry=gpd.points_from_xy(OUTLETS["lon"], OUTLETS["lat"]), crs="EPSG:4326")
    dists = gpd.GeoDataFrame(DISTS.drop(columns=["lon", "lat"]),
                             geometry=gpd.points_from_xy(DISTS["lon"], DISTS["lat"]), crs="EPSG:4326")
    for name, layer in (("regions", regions), ("outlets", outlets), ("distributors", dists)):
        layer.to_file(path, layer=name, driver="GPKG")
    net = co.read_network(path)
    _check_network(net)
    # polygon regions: queen adjacency from the shapes (苏州 touches both, 上海 and 杭州 do not touch)
    assert sorted(map(sorted, net.graph.edges())) == [["上海", "苏州"], ["杭州", "苏州"]]
    assert "derived" not in net.regions.columns
    _solve_and_roundtrip(net, tmp_path)


def test_sqlite_file_url_and_connection(tmp_path):
    import sqlalchemy as sa

    db = tmp_path / "dms.db"
    with sqlite3.connect(db) as con:
        OUTLETS.to_sql("stores", con, index=False)
        DISTS.rename(columns=ZH_DISTS).to_sql("经销商", con, index=False)
    with pytest.raises(ValidationError, match=r"dms.db, table 'outlets'|no table named 'outlets'") as err:
        co.read_network(db)
    assert "'stores'" in str(err.value)  # it lists what the database holds
    net = co.read_network(db, tables={"outlets": "stores"})
    _check_network(net)
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        _check_network(co.read_network(conn, tables={"outlets": "stores"}))
    _check_network(co.read_network(f"sqlite:///{db}", tables={"outlets": "stores"}))
    engine.dispose()
    _solve_and_roundtrip(net, tmp_path)


def test_template_writes_readme_and_reads_back_and_plans(tmp_path):
    path = write_template(tmp_path / "t.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["README", "outlets", "distributors", "regions", "edges"]
    header = [c.value for c in book["outlets"][1]]
    assert header[:2] == ["outlet_id", "name"]
    assert "网点编号" in book["outlets"]["A1"].comment.text
    assert "经营渠道" in book["distributors"].cell(row=1, column=header.index("name") + 6).comment.text or any(
        "经营渠道" in (c.comment.text if c.comment else "") for c in book["distributors"][1])
    net = co.read_network(path)
    assert len(net.outlets) == 6 and len(net.distributors) == 3
    assert net.outlets.set_index("outlet_id").loc["O004", "name"] == "仁和药房"
    assert np.isinf(net.distributors.set_index("distributor_id").loc["D03", "capacity"])
    assert bool(net.distributors.set_index("distributor_id").loc["D01", "existing"]) is True
    plan = co.DistributorSelection(objective="min_cost").solve(net)
    assert plan.status == "optimal"


def test_excel_formats_widths_and_shares(tmp_path):
    frame = pd.DataFrame({"region_id": ["乌鲁木齐市", "A"], "weighted_distribution": [0.25, 1.0],
                          "total_cost": [1234567.5, 2.0], "n": [3, 4], "capacity": [np.inf, 5.0]})
    path = frames_to_excel({"by_region": frame}, tmp_path / "f.xlsx")
    ws = openpyxl.load_workbook(path)["by_region"]
    assert ws["B2"].number_format == "0.0%" and ws["B2"].value == 0.25
    assert ws["C2"].number_format == "#,##0.00" and ws["D2"].number_format == "#,##0"
    assert ws["E2"].value == "inf" and ws["E3"].value == 5.0
    # Five CJK characters are ten columns wide.
    assert ws.column_dimensions["A"].width >= 10 + 2


def test_plan_to_excel_is_plan_method(tmp_path):
    net = co.ChannelNetwork.from_cost_matrix([[1, 4], [3, 1], [5, 2]], fixed_cost=[2, 3])
    plan = co.DistributorSelection(objective="min_cost").solve(net)
    p = plan_to_excel(plan, tmp_path / "a.xlsx")
    book = openpyxl.load_workbook(p)
    summary = {r[0]: r[1] for r in book["summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["objective"] == 9.0 and summary["gap"] == pytest.approx(plan.gap)
    for key in ("bound", "solve_seconds", "build_seconds", "numeric_distribution"):
        assert key in summary


# ----------------------------------------------------------------------------- bad input
def _xlsx(tmp_path, outlets=OUTLETS, dists=DISTS, name="bad.xlsx", **extra):
    path = tmp_path / name
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        if outlets is not None:
            outlets.to_excel(xw, sheet_name="outlets", index=False)
        if dists is not None:
            dists.to_excel(xw, sheet_name="distributors", index=False)
        for sheet, frame in extra.items():
            frame.to_excel(xw, sheet_name=sheet, index=False)
    return path


def _error(source, **kw) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        co.read_network(source, **kw)
    assert isinstance(err.value, ChannelOptError)
    return err.value


def test_missing_sheet_names_file_and_what_it_has(tmp_path):
    path = _xlsx(tmp_path, dists=None, dealers=DISTS)
    e = _error(path)
    msg = str(e)
    assert "bad.xlsx" in msg and "'distributors'" in msg and "'dealers'" in msg and "template" in msg


def test_unknown_header_suggests_nearest(tmp_path):
    e = _error(_xlsx(tmp_path, outlets=OUTLETS.rename(columns={"potential": "potentail"})))
    assert "sheet 'outlets'" in str(e) and "'potentail'" in str(e) and "Did you mean 'potential'" in str(e)
    assert e.column == "potentail"
    e = _error(_xlsx(tmp_path, outlets=OUTLETS.rename(columns={"channel": "渠道类别"}), name="zh.xlsx"))
    assert "'渠道类别'" in str(e) and "Did you mean '渠道" in str(e)
    # keep_columns carries an extra column along unchanged
    net = co.read_network(_xlsx(tmp_path, outlets=OUTLETS.assign(备注="x"), name="keep.xlsx"), keep_columns=["备注"])
    assert net.outlets["备注"].tolist() == ["x"] * 6


def test_swapped_lon_lat_is_named(tmp_path):
    bad = OUTLETS.copy()
    bad.loc[bad["outlet_id"] == "O2", ["lon", "lat"]] = [31.23, 121.48]
    e = _error(_xlsx(tmp_path, outlets=bad))
    assert "sheet 'outlets'" in str(e) and e.column == "lat" and e.ids == ["O2"]
    assert "look swapped" in str(e) and "exchange the two columns" in str(e)


def test_unknown_channel_in_distributor_list(tmp_path):
    bad = DISTS.copy()
    bad.loc[1, "channels"] = "traditional;KA"
    e = _error(_xlsx(tmp_path, dists=bad))
    assert "sheet 'distributors'" in str(e) and "'KA'" in str(e) and e.ids == ["D2"] and e.column == "channels"


def test_duplicate_id_and_empty_sheet_and_empty_file(tmp_path):
    # Phrases are checked whole: the tmp_path (named after this test) is part of each message.
    dup = pd.concat([DISTS, DISTS.iloc[[2]]])
    e = _error(_xlsx(tmp_path, dists=dup))
    assert "sheet 'distributors'" in str(e) and "has duplicate ids ['D3']" in str(e) and e.ids == ["D3"]
    e = _error(_xlsx(tmp_path, outlets=OUTLETS.iloc[0:0], name="empty_sheet.xlsx"))
    assert "sheet 'outlets': no rows; give at least one outlets row" in str(e)
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "outlets.csv").write_text("")
    DISTS.to_csv(folder / "distributors.csv", index=False)
    e = _error(folder)
    assert f"{folder / 'outlets.csv'}: the file is empty" in str(e)
    (tmp_path / "zero.xlsx").write_bytes(b"")
    assert "zero.xlsx: the file is empty (0 bytes)" in str(_error(tmp_path / "zero.xlsx"))
    assert "nothing.xlsx: no such file or folder" in str(_error(tmp_path / "nothing.xlsx"))


def test_bad_number_and_nan_coordinates_name_ids(tmp_path):
    bad = DISTS.copy().astype({"capacity": object})
    bad.loc[0, "capacity"] = "很多"
    e = _error(_xlsx(tmp_path, dists=bad))
    assert "'capacity'" in str(e) and e.ids == ["D1"] and "inf" in str(e)
    bad = OUTLETS.copy()
    bad.loc[2, "lon"] = np.nan
    e = _error(_xlsx(tmp_path, outlets=bad, name="nan.xlsx"))
    assert e.column == "lon" and e.ids == ["O3"] and "sheet 'outlets'" in str(e)


def test_errors_from_network_checks_name_the_sheet(tmp_path):
    regions = pd.DataFrame({"region_id": ["上海", "杭州"], "lon": [121.47, 120.16], "lat": [31.23, 30.27]})
    e = _error(_xlsx(tmp_path, regions=regions))
    assert "sheet 'outlets'" in str(e) and "苏州" in str(e) and e.ids == ["O6"]


def test_no_region_id_uses_documented_grid(tmp_path):
    net = co.read_network({"outlets": OUTLETS.drop(columns="region_id"), "distributors": DISTS})
    # 0.5-degree cells named after their south-west corner
    assert net.outlets.set_index("outlet_id").loc["O1", "region_id"] == "grid_31.00N_121.00E"
    assert net.outlets.set_index("outlet_id").loc["O4", "region_id"] == "grid_30.00N_120.00E"
    assert net.regions["derived"].all()


def test_input_frames_are_not_mutated():
    outlets, dists = OUTLETS.rename(columns=ZH_OUTLETS), DISTS.copy()
    o_before, d_before = outlets.copy(), dists.copy()
    co.read_network({"outlets": outlets, "distributors": dists})
    pd.testing.assert_frame_equal(outlets, o_before)
    pd.testing.assert_frame_equal(dists, d_before)


def test_budget_cells_sheet_gives_points_curves(tmp_path):
    cells = pd.DataFrame({"区域": ["上海", "杭州"], "渠道": ["traditional", "traditional"], "活动": ["promo", "promo"],
                          "投入点": ["0;10000;20000", "0;10000"], "响应点": ["0;8000;12000", "0;5000"]})
    net = co.read_network(_xlsx(tmp_path, 预算=cells))
    bc = net.budget_cells
    assert bc["region_id"].tolist() == ["上海", "杭州"]
    assert float(bc["curve"].iloc[0](15000.0)) == pytest.approx(10000.0)
    plan = co.BudgetAllocation(cells=bc, total=15000).solve(net)
    # 上海's curve rises 0.8 per yuan up to 10000, then 0.4; 杭州's 0.5: the optimum puts 10000 into
    # 上海 first, then the next 5000 into 杭州 (0.5 > 0.4).
    assert plan.objective == pytest.approx(8000 + 2500)


def test_template_filled_in_excel_with_chinese_names_plans_and_forwards(tmp_path):
    # As a user does: open the template, overwrite the example rows in place (headers and notes kept), save.
    path = write_template(tmp_path / "渠道数据.xlsx")
    book = openpyxl.load_workbook(path)
    for sheet in ("outlets", "distributors", "regions", "edges"):
        ws = book[sheet]
        ws.delete_rows(2, ws.max_row)
    for row in OUTLETS.itertuples(index=False):
        book["outlets"].append([row.outlet_id, row.name, row.lon, row.lat, row.channel, row.potential, row.region_id])
    for row in DISTS.itertuples(index=False):
        book["distributors"].append([row.distributor_id, row.name, row.lon, row.lat, row.fixed_cost, row.capacity,
                                     row.channels or None, "否"])
    del book["regions"], book["edges"]
    book.save(path)
    net = co.read_network(path)
    _check_network(net)
    plan = _solve_and_roundtrip(net, tmp_path)
    out = openpyxl.load_workbook(tmp_path / "plan.xlsx")
    regions = sorted(r[0] for r in out["by_region"].iter_rows(min_row=2, values_only=True))
    assert regions == sorted(["上海", "杭州", "苏州"])
    assert net.outlets.set_index("outlet_id").loc["O4", "name"] == "仁和药房"
    assert plan.metrics["numeric_distribution"] == 1.0
