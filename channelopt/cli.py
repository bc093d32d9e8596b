"""The ``channelopt`` command.

Subcommands::

    channelopt demo                     solve the built-in example, print its metrics
    channelopt solve SPEC               solve the one scenario of a TOML/YAML file
    channelopt batch FILE --out DIR     run every scenario of a file, store each result
    channelopt compare DIR              one table of every stored result
    channelopt report DIR               HTML report of a solve output, a batch scenario or a whole batch
    channelopt template FILE.xlsx       an input workbook to fill in (read it with read_network)

Exit codes: 0 success, 1 a plan could not be made (infeasible, no solution, solver
failure; for ``batch``: at least one scenario has no plan, the others are stored),
2 bad input or settings (file, parameter, data), 130 interrupted (Ctrl-C or SIGTERM;
``batch --resume`` then carries on where it stopped).
User errors print one readable line, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from .exceptions import SettingsError

__all__ = ["main", "run_demo", "build_parser"]

EXIT_OK, EXIT_NO_PLAN, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _fmt_pct(x: float) -> str:
    return "n/a" if x != x else f"{x:6.1%}"


def run_demo(out: str | Path = "demo_output", *, time_limit: float = 300.0, example: str = "china",
             partners: int = 20, radius_km: float = 300.0, echo: Callable[[str], None] = print) -> dict:
    """Solve a real distributor plan on the built-in example and write its outputs.

    The question: sign ``partners`` distributors, each serving outlets within
    ``radius_km`` and within its capacity, so that weighted distribution is as high as
    possible (a capacitated maximal-coverage model, proven to a 1e-6 gap).

    Prints the breadth (numeric/weighted distribution by channel) and depth metrics,
    and writes into ``out``: the plan folder (``plan.json``, ``assignments.parquet`` and
    the other tables), ``plan.gpkg``, ``plan_map.png`` and ``report.html``.

    Returns
    -------
    dict
        The overall metrics plus ``status``, ``objective``, ``gap`` and the file paths.
    """
    import channelopt as co
    from channelopt.datasets import load_example

    t0 = time.perf_counter()
    net = load_example(example)
    t_load = time.perf_counter() - t0
    echo(f"Loaded example {example!r}: {net}  ({t_load:.2f}s)")
    model = co.DistributorSelection(objective="max_coverage", p=partners, max_distance=radius_km,
                                    capacitated=True)
    echo(f"Question: which {partners} distributors to sign, each serving outlets within {radius_km:.0f} km and "
         f"its capacity, to maximise weighted distribution?")
    echo(f"Solving {model} with HiGHS (gap 1e-6, time limit {time_limit:.0f}s) ...")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", co.NotOptimalWarning)
        plan = model.solve(net, solver=co.Solver("highs", time_limit=time_limit, mip_gap=1e-6))
    m = plan.metrics
    echo("")
    echo(f"status {plan.status}  objective {plan.objective:,.0f}  bound {plan.bound:,.0f}  gap {plan.gap:.3%}  "
         f"build {plan.build_seconds:.1f}s  solve {plan.solve_seconds:.1f}s")
    echo(f"distributors signed: {m['open_distributors']} of {len(net.distributors)} "
         f"({m['new_signings']} new)   fixed {m['fixed_cost']:,.0f}  service {m['service_cost']:,.0f}  "
         f"total {m['total_cost']:,.0f}")
    echo("")
    echo("Breadth")
    echo(f"  numeric distribution  {_fmt_pct(m['numeric_distribution'])}")
    echo(f"  weighted distribution {_fmt_pct(m['weighted_distribution'])}")
    echo(f"  region coverage       {_fmt_pct(m['region_coverage'])}")
    echo(f"  mean channel breadth  {_fmt_pct(m['mean_channel_breadth'])}")
    echo("  by channel:            ND       WD")
    for channel, row in m.by_channel.iterrows():
        echo(f"    {channel:<18} {_fmt_pct(row['numeric_distribution'])}   {_fmt_pct(row['weighted_distribution'])}")
    echo("Depth")
    echo(f"  mean penetration of covered regions   {_fmt_pct(m['mean_penetration_covered_regions'])}")
    if "mean_distributors_per_covered_region" in m:
        echo(f"  distributors per covered region       {m['mean_distributors_per_covered_region']:.2f}")
    if "visits_per_covered_outlet" in m.by_region.columns:
        echo(f"  visits per covered outlet (mean)      {m.by_region['visits_per_covered_outlet'].mean():.2f}")
    echo(f"  max distributor utilisation           {_fmt_pct(m['max_utilisation'])}")
    echo("Conflict")
    echo(f"  outlets served by >1 distributor      {m.overall.get('multi_served_outlets', 0)}")
    echo(f"  regions split between partners        {m.overall.get('split_regions', 0)}")

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan.save(out)
    files = {
        "json": out / "plan.json",
        "parquet": out / "assignments.parquet",
        "gpkg": plan.to_geopackage(out / "plan.gpkg"),
    }
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = plan.plot()
    ax.figure.savefig(out / "plan_map.png", dpi=110, bbox_inches="tight")
    plt.close(ax.figure)
    files["png"] = out / "plan_map.png"
    files["html"] = plan.to_html(out / "report.html")
    echo("")
    echo("Wrote " + ", ".join(str(p) for p in files.values()))
    echo(f"Total wall time {time.perf_counter() - t0:.1f}s")
    return {**m.overall, "status": plan.status, "objective": plan.objective, "gap": plan.gap,
            "files": {k: str(v) for k, v in files.items()}}


def _cmd_demo(args: argparse.Namespace) -> int:
    run_demo(args.out, time_limit=args.time_limit, example=args.example, partners=args.partners,
             radius_km=args.radius_km)
    return EXIT_OK


def _pick(scenarios: list, name: str | None, spec: str):
    if name is not None:
        found = [s for s in scenarios if s.name == name]
        if not found:
            raise SettingsError(f"{spec} has no scenario {name!r}; it has {[s.name for s in scenarios][:20]}.")
        return found[0]
    if len(scenarios) != 1:
        raise SettingsError(f"{spec} holds {len(scenarios)} scenarios; pick one with --name (one of "
                         f"{[s.name for s in scenarios][:10]}) or run them all with `channelopt batch`.")
    return scenarios[0]


def _cmd_solve(args: argparse.Namespace) -> int:
    import dataclasses

    import channelopt as co
    from channelopt.scenarios import load_scenarios

    scenario = _pick(load_scenarios(args.spec), args.name, args.spec)
    solver = scenario.build_solver()
    if args.time_limit is not None or args.solver is not None:
        changes = {k: v for k, v in (("time_limit", args.time_limit), ("name", args.solver)) if v is not None}
        solver = dataclasses.replace(solver, **changes)
    model = scenario.build_model()
    net = scenario.build_network()
    print(f"Solving {scenario.name}: {model} with {solver.name} ...")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", co.NotOptimalWarning)
        plan = model.solve(net, solver=solver)
    print(f"status {plan.status}  objective {plan.objective:,.6g}  bound {plan.bound:,.6g}  gap {plan.gap:.3%}  "
          f"build {plan.build_seconds:.2f}s  solve {plan.solve_seconds:.2f}s")
    for key, value in plan.metrics.overall.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            print(f"  {key:<36} {value:,.6g}")
    if args.out:
        folder = plan.save(args.out)
        print(f"Wrote {folder}")
    if args.excel:
        print(f"Wrote {plan.to_excel(args.excel)}")
    if plan.info.termination == "interrupted":
        # Ctrl-C during the solve: the best plan so far is written above, and the exit
        # status still says the run was interrupted (shell convention 128 + SIGINT).
        print("channelopt: interrupted; the best plan found so far was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def _raise_interrupt(signum, frame):  # pragma: no cover - exercised through a subprocess
    raise KeyboardInterrupt


def _cmd_batch(args: argparse.Namespace) -> int:
    import signal

    from channelopt.scenarios import load_scenarios, run_scenarios

    scenarios = load_scenarios(args.file)
    executor = args.scheduler or args.executor
    # SIGTERM stops like Ctrl-C: pending work is cancelled, stored results stay.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    print(f"{len(scenarios)} scenarios from {args.file} -> {args.out}", flush=True)
    res = run_scenarios(scenarios, out=args.out, executor=executor, workers=args.workers, resume=args.resume,
                        retry_failed=args.retry_failed, progress=not args.no_progress)
    cols = [c for c in ("name", "status", "objective", "gap", "wall_seconds", "error_type") if c in res]
    print(res[cols].to_string(index=False, na_rep="-", max_colwidth=60))
    failed = res[~res["status"].isin(["optimal", "feasible"])]
    resumed = int(res["resumed"].sum()) if "resumed" in res else 0
    print(f"{len(res) - len(failed)} solved, {len(failed)} without a plan, {resumed} read from the store")
    for row in failed.itertuples(index=False):
        print(f"  {row.name}: {row.status}: {row.error_type}: {str(row.error).splitlines()[0][:300]}")
    if args.excel:
        from .scenarios import compare_results

        compare_results(args.out, excel=args.excel)
        print(f"Wrote {args.excel}")
    return EXIT_NO_PLAN if len(failed) else EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from channelopt.scenarios import compare_results, pareto_front

    table = compare_results(args.dir)
    if not len(table):
        print(f"channelopt: no stored results in {args.dir}", file=sys.stderr)
        return EXIT_USAGE
    if args.pareto_max or args.pareto_min:
        table = pareto_front(table, maximize=args.pareto_max or (), minimize=args.pareto_min or ())
    if args.sort:
        if args.sort not in table:
            raise SettingsError(f"--sort: no column {args.sort!r}; columns: {list(table.columns)}")
        table = table.sort_values(args.sort, kind="stable")
    if args.csv:
        table.to_csv(args.csv, index=False)
        print(f"Wrote {args.csv}")
    if args.excel:
        from .io import results_to_excel

        print(f"Wrote {results_to_excel(table, args.excel)}")
    cols = list(table.columns)
    if args.columns:
        unknown = [c for c in args.columns if c not in table]
        if unknown:
            raise SettingsError(f"--columns: no column {unknown[0]!r}; columns: {cols}")
        cols = ["name"] + [c for c in args.columns if c != "name"]
    elif not args.all:
        from channelopt.scenarios import KEY_METRICS

        cols = [c for c in ["name", "status", "objective", "gap", *KEY_METRICS, "error_type"] if c in table]
    with __import__("pandas").option_context("display.width", 250, "display.max_columns", 60):
        print(table[cols].to_string(index=False, na_rep="-", float_format=lambda x: f"{x:.6g}"))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="channelopt", description="Channel coverage planning with MILP.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log progress (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="solve a real plan on the built-in example and print its metrics",
                          description="Solve a capacitated maximal-coverage distributor plan on the china "
                                      "example; print "
                                      "breadth/depth metrics; write JSON, Parquet, GeoPackage and a map.")
    demo.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    demo.add_argument("--time-limit", type=float, default=300.0, help="solver time limit in seconds")
    demo.add_argument("--partners", type=int, default=20, help="distributors to sign (default 20)")
    demo.add_argument("--radius-km", type=float, default=300.0, help="service radius in km (default 300)")
    demo.add_argument("--example", default="china", choices=["china", "nc"], help="built-in example")
    demo.set_defaults(func=_cmd_demo)

    solve = sub.add_parser("solve", help="solve one scenario of a TOML/YAML scenario file",
                           description="Solve the scenario in SPEC (a TOML or YAML scenario file, see "
                                       "channelopt.load_scenarios) and print its status and metrics.")
    solve.add_argument("spec", metavar="SPEC", help="scenario file (.toml, .yaml or .yml)")
    solve.add_argument("--name", help="which scenario, when the file holds several")
    solve.add_argument("--out", help="write the plan's tables and plan.json into this folder")
    solve.add_argument("--time-limit", type=float, help="override the solver time limit (seconds)")
    solve.add_argument("--solver", choices=["highs", "cbc"], help="override the solver")
    solve.add_argument("--excel", metavar="FILE.xlsx", help="also write the plan as one Excel workbook "
                       "(summary sheet plus one sheet per table)")
    solve.set_defaults(func=_cmd_solve)

    batch = sub.add_parser("batch", help="run every scenario of a file; store each result as it finishes",
                           description="Run the scenarios of FILE on a local process pool or a Dask cluster, "
                                       "writing each result into DIR as soon as it finishes. Rerun with "
                                       "--resume (the default) after an interruption to solve only the rest.")
    batch.add_argument("file", metavar="FILE", help="scenario file (.toml, .yaml or .yml)")
    batch.add_argument("--out", required=True, metavar="DIR", help="result folder")
    batch.add_argument("--workers", type=int, help="parallel workers (default: CPUs - 1)")
    batch.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://host:8786 "
                                                                 "(needs channelopt[dask])")
    batch.add_argument("--executor", default="processes", choices=["processes", "serial", "dask"],
                       help="where to run without --scheduler: a local process pool (default), this process, "
                            "or a private Dask LocalCluster")
    batch.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                       help="skip scenarios already stored in DIR (default: on)")
    batch.add_argument("--retry-failed", action="store_true", help="with --resume, solve failed scenarios again")
    batch.add_argument("--no-progress", action="store_true", help="no progress bar")
    batch.add_argument("--excel", metavar="FILE.xlsx", help="also write the comparison of every scenario as a workbook")
    batch.set_defaults(func=_cmd_batch)

    comp = sub.add_parser("compare", help="one table of every stored result in a folder",
                          description="Print status, gap and metrics (breadth, depth, cost, ROI, balance, "
                                      "conflict) of every scenario stored in DIR.")
    comp.add_argument("dir", metavar="DIR", help="result folder written by `channelopt batch`")
    comp.add_argument("--sort", metavar="COLUMN", help="sort by this column")
    comp.add_argument("--columns", nargs="+", metavar="COLUMN", help="show only these columns")
    comp.add_argument("--all", action="store_true", help="show every column")
    comp.add_argument("--pareto-max", nargs="+", metavar="COLUMN", help="keep the Pareto front: maximise these")
    comp.add_argument("--pareto-min", nargs="+", metavar="COLUMN", help="... and minimise these")
    comp.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    comp.add_argument("--excel", metavar="FILE.xlsx", help="also write the table as an Excel workbook")
    comp.set_defaults(func=_cmd_compare)

    rep = sub.add_parser("report", help="write a self-contained HTML report of a result folder",
                         description="Write one self-contained HTML page (summary metrics, charts, solve info, "
                                     "decision tables) for a folder written by `channelopt solve --out`, Plan.save or "
                                     "`channelopt demo`, or for one scenario folder of a batch. For a whole batch "
                                     "folder, write a report per scenario and index.html with the comparison.")
    rep.add_argument("dir", metavar="DIR", help="a solve output, a batch scenario folder, or a batch folder")
    rep.add_argument("--out", default=None, help="HTML path (default: DIR/report.html, or DIR/index.html for a batch)")
    rep.set_defaults(func=_cmd_report)

    tpl = sub.add_parser("template", help="write an input workbook to fill in with your own data",
                         description="Write an .xlsx with a README sheet and the sheets outlets, distributors, "
                                     "regions and edges: English headers (the Chinese alias in each header's note) "
                                     "and example rows. Fill it in and point a scenario's network at it: "
                                     "network = {path = \"FILE.xlsx\"}.")
    tpl.add_argument("path", metavar="FILE.xlsx", help="the workbook to write")
    tpl.add_argument("--force", action="store_true", help="replace an existing file")
    tpl.set_defaults(func=_cmd_template)
    return parser


def _cmd_report(args: argparse.Namespace) -> int:
    from .report_index import report_folder

    print(f"Wrote {report_folder(args.dir, args.out)}")
    return EXIT_OK


def _cmd_template(args: argparse.Namespace) -> int:
    from .io import write_template

    path = Path(args.path)
    if path.suffix.lower() != ".xlsx":
        raise SettingsError(f"{path}: the template is an Excel workbook; give a name ending in .xlsx.")
    if path.exists() and not args.force:
        raise SettingsError(f"{path} exists; pass --force to replace it.")
    print(f"Wrote {write_template(path)}: fill in the sheets outlets and distributors (and optionally regions, "
          f"edges), then `channelopt solve` a scenario with network = {{path = \"{path.name}\"}}.")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``channelopt`` command; returns the exit code."""
    code = _main(argv)
    if argv is None:
        _exit_if_highs_still_running(code)
    return code


def _exit_if_highs_still_running(code: int) -> None:
    """End the command now when a stopped HiGHS run is still going in the background.

    HiGHS's full presolve checks neither interrupts nor its time limit (measured: 51-160 s
    on large MIPs). After Ctrl-C the plan is written, but an ordinary exit would wait for
    that run (see ``solver._join_abandoned``). A command knows its exit status, so it skips
    the wait and the C++ teardown that would abort the process. Only when run as a program
    (``argv is None``): ``main([...])`` called from Python never ends the interpreter.
    """
    from .solver import _abandoned_running

    if _abandoned_running():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _main(argv: Sequence[str] | None) -> int:
    from .exceptions import ChannelOptError, InfeasibleError, NoSolutionError, SolverError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.INFO,
                            format="%(asctime)s %(name)s %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except (InfeasibleError, NoSolutionError, SolverError) as exc:
        print(f"channelopt: no plan: {exc}", file=sys.stderr)
        return EXIT_NO_PLAN
    except (ChannelOptError, FileNotFoundError, ValueError, ImportError) as exc:
        print(f"channelopt: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("channelopt: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
