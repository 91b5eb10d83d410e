"""Siting benchmark: evplan's p-median and MCLP against PySAL spopt (CBC through PuLP).

Benchmark dependencies -- spopt and PuLP (PuLP ships the CBC binary) are the ``bench``
extra; they pin nothing that conflicts with the project's own dependencies, so they go into
the project virtualenv::

    pip install -e '.[bench]'
    python benchmarks/bench_siting.py [--quick]

Measures, side by side in one run:

1. p-median on Beasley's OR-Library instances ``pmed1`` ... ``pmed20`` (distance matrices
   from ``planner.siting.instances.orlib.read_orlib_pmed``; reading is not timed):
   ``planner.siting.PMedian.from_cost_matrix(cost, p=p).solve(threads=2)`` (repeated,
   median) against ``spopt.locate.PMedian.from_cost_matrix(cost, ones, p_facilities=p)``
   ``.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=...))`` (spopt's default CBC, once;
   timed from the cost matrix: PuLP model build + solve). Every objective is compared
   with the proven optimum of ``optimal.csv`` and every evplan result must pass
   ``planner.siting.check_result("pmedian", model.raw, result)``. When CBC hits
   ``--spopt-limit`` its time and the ratio are lower bounds (marked ``>=``).
2. MCLP at scale: ``planner.siting.instances.synthetic.synthetic_city(1_000_000, 1_000, ...)``
   (sparse travel times within ``cutoff_s = threshold = 600`` s; the build is timed
   separately, not as part of the solve), ``MCLP.from_cost_matrix(cost, weights,
   threshold=600, p=p).solve(threads=2)`` for p = 5, 10, 20 and 50, on the default 150 x 150 grid
   (30 km, Almaty-sized) and on a 300 x 300 grid (60 km) where p sites cannot cover all
   demand. The 1M-point objective is re-computed independently from the sparse matrix
   (``check_result`` would densify 1M x 1,000 = 8 GB). Then a row subsample (``--sub-n``,
   default 10,000 points x the same 1,000 candidates) is solved by both evplan (with
   ``check_result``) and spopt's ``MCLP`` (dense cost matrix, CBC) for the ratio and
   objective comparison.

Writes ``benchmarks/results/siting.md`` (tables ready to paste into a README) and
``siting.json`` (raw samples, machine info, noise indicators). Exit status: 1 when the
methods disagree (an objective differs from the known optimum or from a proven spopt
optimum, or the independent checker fails), 2 when spopt is missing, else 0 (with
``--strict`` also 1 when a target is missed).

Run from the repository root::

    python benchmarks/bench_siting.py          # full run, writes results
    python benchmarks/bench_siting.py --quick  # pmed1-3, 100k MCLP; writes nothing unless --out

The data folder is ``../shared/data`` beside the repository, or ``$EVPLAN_DATA_DIR``.
This is a plain script, not a pytest module (pytest only collects ``tests/``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from _common import REPO, CpuMeter, fmt_s, git, machine_info, wait_idle, write_atomic

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ORLIB = "bench/orlib-pmed"
TARGET_PMEDIAN_SPEEDUP = 20.0  # ours >= 20x faster than spopt over pmed1..pmed20, same optima
TARGET_MCLP_S = 60.0  # MCLP 1,000 x 1,000,000 OPTIMAL within 60 s on 2 cores
REPEAT_BUDGET_S = 20.0  # our solves are repeated (median) until this much time has been spent


def data_root(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    base = os.environ.get("EVPLAN_DATA_DIR")
    return Path(base) if base else REPO.parent / "shared" / "data"


def import_spopt():
    """Import spopt and PuLP lazily; exit with a clear message when they are missing."""
    try:
        import pulp
        from spopt.locate import MCLP as SpMCLP
        from spopt.locate import PMedian as SpPMedian
    except ImportError as exc:
        sys.stderr.write(
            f"bench_siting: cannot import spopt/pulp ({exc}).\n"
            "spopt and PuLP (with CBC) are the benchmark extra; install them with\n"
            "    pip install -e '.[bench]'\n"
            "from the repository root, or run with --no-spopt to time evplan alone.\n"
        )
        sys.exit(2)
    return pulp, SpPMedian, SpMCLP


# --------------------------------------------------------------------------- noise meter
def own_cpu_s() -> float:
    return CpuMeter._own()


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def pmedian_cost(cost, open_sites) -> float:
    """p-median objective of an open set (unit weights, as in OR-Library)."""
    return float(cost[:, open_sites].min(axis=1).sum())


def run_spopt(build, pulp, limit: float, recompute) -> dict:
    """Build an spopt model (``build()``) and solve it with CBC once; time, status, objective.

    ``recompute(open_sites)`` re-evaluates the objective from the raw instance. spopt raises
    ``RuntimeError`` when CBC returns no solution: that is recorded, not raised.
    """
    meter = CpuMeter()
    w0, c0 = time.perf_counter(), own_cpu_s()
    sp = build()
    t_build = time.perf_counter() - w0
    err = None
    try:
        sp.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=limit))
    except RuntimeError as exc:
        err = str(exc)
    t_total = time.perf_counter() - w0
    cpu = own_cpu_s() - c0
    nzs = meter.stop()
    prob = sp.problem
    sol_status = int(prob.sol_status)
    obj = pulp.value(prob.objective) if err is None else math.nan
    open_ = [j for j, v in enumerate(sp.fac_vars) if (v.value() or 0) > 0.5] if err is None else []
    hit = (
        err is not None
        or sol_status != pulp.LpSolutionOptimal
        or (t_total - t_build) >= 0.98 * limit
    )
    return {
        "build_s": t_build,
        "total_s": t_total,
        "solve_s": t_total - t_build,
        "cpu_s_incl_cbc": cpu,
        "status": pulp.LpStatus[prob.status],
        "sol_status": pulp.LpSolution.get(sol_status, str(sol_status)),
        "hit_time_limit": bool(hit),
        "time_limit_s": limit,
        "objective": obj,
        "objective_recomputed": recompute(open_) if open_ else math.nan,
        "n_open": len(open_),
        "open": open_,
        "error": err,
        "noise": nzs,
    }


# --------------------------------------------------------------------------- p-median
def bench_pmedian(args, pulp, SpPMedian, noise: dict, idle) -> dict:
    import numpy as np

    from planner._errors import CheckerError
    from planner.siting import PMedian, check_result
    from planner.siting.instances.orlib import read_orlib_optima, read_orlib_pmed

    folder = data_root(args.data) / ORLIB
    if not (folder / "optimal.csv").is_file():
        sys.exit(
            f"OR-Library instances not found in {folder}; put the shared data beside the "
            "repository (../shared/data) or set EVPLAN_DATA_DIR"
        )
    optima = read_orlib_optima(folder / "optimal.csv")
    rows, problems = [], []
    meter_ours_total = {"wall_s": 0.0, "other_share_weighted": 0.0}
    for name in args.instances:
        inst = read_orlib_pmed(folder / f"{name}.txt")  # shortest paths: not timed
        opt = optima[name]
        row: dict = {"instance": name, "n": inst.n, "p": inst.p, "optimum": opt}
        print(f"[pmedian] {name}: n={inst.n} p={inst.p} optimum={opt:g}", flush=True)

        # ---- ours, repeated (median)
        idle(f"pmedian_{name}_ours")
        meter = CpuMeter()
        samples, cpu_samples, res, model = [], [], None, None
        for _ in range(args.repeats):
            if sum(samples) > REPEAT_BUDGET_S:  # slow solves are not repeated
                break
            w0, c0 = time.perf_counter(), own_cpu_s()
            model = PMedian.from_cost_matrix(inst.cost, p=inst.p)
            res = model.solve(time_limit_s=args.our_limit, threads=args.threads, seed=args.seed)
            samples.append(time.perf_counter() - w0)
            cpu_samples.append(own_cpu_s() - c0)
        nz = meter.stop()
        try:
            rep = check_result("pmedian", model.raw, res)
            check = {"ok": True, "objective": rep.objective}
        except CheckerError as exc:
            check = {"ok": False, "error": str(exc)}
            problems.append(f"{name}: our PMedian failed check_result: {exc}")
        ours_t = statistics.median(samples)
        meter_ours_total["wall_s"] += nz["elapsed_s"]
        meter_ours_total["other_share_weighted"] += nz["other_procs_cpu_share"] * nz["elapsed_s"]
        row["ours"] = {
            "wall_median_s": ours_t,
            "samples_s": [round(x, 4) for x in samples],
            "cpu_median_s": statistics.median(cpu_samples),
            "solve_time_s": res.solve_time_s,
            "status": res.status,
            "objective": res.objective,
            "best_bound": res.best_bound,
            "gap": res.gap,
            "solver": res.solver,
            "selected": res.selected.tolist(),
            "details": {k: v for k, v in res.details.items() if isinstance(v, int | float | str)},
            "check": check,
            "noise": nz,
        }
        ours_ok = res.status == "OPTIMAL" and abs(res.objective - opt) < 0.5
        if abs(res.objective - opt) >= 0.5:
            problems.append(
                f"{name}: our PMedian objective {res.objective:.10g} != known optimum {opt:g} "
                f"(status {res.status}, bound {res.best_bound:.10g}, solver {res.solver})"
            )
        elif res.status != "OPTIMAL":
            problems.append(
                f"{name}: our PMedian found the optimum {opt:g} but did not prove it "
                f"(status {res.status}, gap {res.gap:.3g}) within {args.our_limit:g} s"
            )
        print(
            f"  ours : {ours_t:.3f} s (samples {row['ours']['samples_s']}) {res.status} "
            f"obj={res.objective:.10g} solver={res.solver} check={'ok' if check['ok'] else 'FAIL'}",
            flush=True,
        )

        # ---- spopt + CBC, once
        if args.no_spopt:
            row["spopt"] = None
        else:
            prev = reused_spopt_pmed(args, name)
            if prev is not None:
                row["spopt"] = dict(prev, reused=True)
                print("  spopt: reusing the record of --reuse (same instance and limit)")
            else:
                idle(f"pmedian_{name}_spopt")
                row["spopt"] = run_spopt(
                    partial(
                        SpPMedian.from_cost_matrix, inst.cost, np.ones(inst.n), p_facilities=inst.p
                    ),
                    pulp,
                    args.spopt_limit,
                    partial(pmedian_cost, inst.cost),
                )
            sr = row["spopt"]
            t_total, t_build, obj, err = sr["total_s"], sr["build_s"], sr["objective"], sr["error"]
            hit, nzs = sr["hit_time_limit"], sr["noise"]
            if err is None and not hit and abs(obj - opt) >= 0.5:
                problems.append(
                    f"{name}: spopt proven-optimal objective {obj:.10g} != known optimum {opt:g}"
                )
            if err is None and obj < opt - 0.5:
                problems.append(
                    f"{name}: spopt objective {obj:.10g} below the known optimum {opt:g}"
                )
            # spopt reached the proven optimum; when CBC stopped at its limit that is not a
            # disagreement (only a worse incumbent), so "same optimum" compares proven optima
            row["spopt_reached_optimum"] = bool(err is None and not hit and abs(obj - opt) < 0.5)
            row["same_optimum"] = bool(ours_ok and (hit or abs(obj - res.objective) < 0.5))
            if hit:
                problems.append(
                    f"{name}: spopt/CBC hit its {args.spopt_limit:g} s limit "
                    f"({t_total - t_build:.0f} s in solve) with "
                    + (f"objective {obj:.10g} vs optimum {opt:g}" if err is None else "no solution")
                )
            row["ratio_spopt_over_ours"] = t_total / ours_t
            print(
                f"  spopt: {t_total:.2f} s (PuLP build {t_build:.2f} s) {row['spopt']['status']}/"
                f"{row['spopt']['sol_status']} obj={obj:.10g}{' (HIT TIME LIMIT)' if hit else ''} "
                f"ratio {t_total / ours_t:.1f}x; other procs "
                f"{nzs['other_procs_cpu_share'] * 100:.0f}%",
                flush=True,
            )
        rows.append(row)

    ours_total = sum(r["ours"]["wall_median_s"] for r in rows)
    out = {"instances": rows, "problems": problems, "ours_total_s": ours_total}
    noise["pmedian_ours"] = {
        "elapsed_s": round(meter_ours_total["wall_s"], 2),
        "other_procs_cpu_share": round(
            meter_ours_total["other_share_weighted"] / max(meter_ours_total["wall_s"], 1e-9), 3
        ),
    }
    if not args.no_spopt:
        sp_total = sum(r["spopt"]["total_s"] for r in rows)
        el = sum(r["spopt"]["noise"]["elapsed_s"] for r in rows)
        noise["pmedian_spopt"] = {
            "elapsed_s": round(el, 2),
            "other_procs_cpu_share": round(
                sum(
                    r["spopt"]["noise"]["other_procs_cpu_share"] * r["spopt"]["noise"]["elapsed_s"]
                    for r in rows
                )
                / max(el, 1e-9),
                3,
            ),
        }
        limited = [r["instance"] for r in rows if r["spopt"]["hit_time_limit"]]
        out.update(
            spopt_total_s=sp_total,
            spopt_build_total_s=sum(r["spopt"]["build_s"] for r in rows),
            ratio_total=sp_total / ours_total,
            ratio_total_is_lower_bound=bool(limited),
            spopt_hit_limit=limited,
            all_same_optimum=all(r["same_optimum"] for r in rows),
            spopt_optimal_on=[r["instance"] for r in rows if r["spopt_reached_optimum"]],
            ours_all_optimal=all(
                r["ours"]["status"] == "OPTIMAL"
                and abs(r["ours"]["objective"] - r["optimum"]) < 0.5
                for r in rows
            ),
            ours_all_checked=all(r["ours"]["check"]["ok"] for r in rows),
        )
    return out


# --------------------------------------------------------------------------- MCLP
def covered_weight_sparse(cost, weights, threshold: float, open_) -> float:
    """Independent recomputation of MCLP coverage straight from the sparse matrix."""
    import numpy as np

    sub = cost[:, np.asarray(open_, dtype=np.int64)].tocsr()
    ok = sub.data <= threshold
    row = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
    covered = np.zeros(sub.shape[0], dtype=bool)
    covered[row[ok]] = True
    return float(weights[covered].sum())


def lp_cell(d: dict) -> str:
    if d.get("lp_bound") is None:
        return "-"
    return f"{fmt_obj(d['lp_bound'])} ({fmt_s(d['lp_seconds'])})"


def fixed_cell(d: dict) -> str:
    if d.get("lp_bound") is None:
        return "-"
    closed = d.get("refixed_closed", d.get("lp_fixed_closed", 0))
    opened = d.get("refixed_open", d.get("lp_fixed_open", 0))
    return f"{closed} / {opened}"


def previous_cell(prev: dict | None) -> str:
    if not prev:
        return "-"
    return f"{prev['gap'] * 100:.2f}% ({fmt_obj(prev['objective'])}, {prev['status']})"


def mclp_record(res, wall: float, build_model_s: float) -> dict:
    d = res.details
    return {
        "wall_s": wall,
        "from_cost_matrix_s": build_model_s,
        "solve_time_s": res.solve_time_s,
        "status": res.status,
        "objective": res.objective,
        "best_bound": res.best_bound,
        "gap": res.gap,
        "solver": res.solver,
        "n_selected": int(res.selected.size),
        "selected": res.selected.tolist(),
        "details": {k: v for k, v in d.items() if isinstance(v, int | float | str)},
    }


def bench_mclp(args, pulp, SpMCLP, noise: dict, idle) -> dict:
    import gc

    import numpy as np

    from planner._errors import CheckerError
    from planner.siting import MCLP, check_result
    from planner.siting.instances.synthetic import synthetic_city

    thr = float(args.threshold)
    large, subs, problems = [], [], []
    for side in args.sides:
        print(
            f"[mclp] synthetic_city({args.mclp_n:,}, {args.candidates:,}, side={side}, "
            f"cutoff_s={args.cutoff:g}, seed={args.seed})",
            flush=True,
        )
        gc.collect()
        idle(f"mclp_build_{side}")
        meter = CpuMeter()
        w0 = time.perf_counter()
        city = synthetic_city(
            args.mclp_n,
            args.candidates,
            rng=np.random.default_rng(args.seed),
            side=side,
            cutoff_s=args.cutoff,
        )
        t_city = time.perf_counter() - w0
        nzb = meter.stop()
        cost, weights = city.cost, city.weights
        inst = {
            "side": side,
            "grid_km": side * 0.2,
            "n_demand": args.mclp_n,
            "n_candidates": args.candidates,
            "nnz": int(cost.nnz),
            "build_s": t_city,
            "maxrss_after_build_mb": maxrss_mb(),
            "noise_build": nzb,
        }
        print(
            f"  built in {t_city:.1f} s, nnz {cost.nnz:,} "
            f"({cost.nnz / args.mclp_n:.1f} candidates per point)",
            flush=True,
        )
        for p in args.ps:
            idle(f"mclp_{side}_{p}")
            meter = CpuMeter()
            w0 = time.perf_counter()
            model = MCLP.from_cost_matrix(cost, weights, threshold=thr, p=p)
            t_model = time.perf_counter() - w0
            res = model.solve(
                time_limit_s=args.mclp_limit,
                threads=args.threads,
                seed=args.seed,
                solver=args.mclp_solver,
            )
            wall = time.perf_counter() - w0
            nz = meter.stop()
            rec = mclp_record(res, wall, t_model)
            rec.update(
                p=p,
                noise=nz,
                maxrss_mb=maxrss_mb(),
                **{k: inst[k] for k in inst if k not in ("noise_build",)},
            )
            indep = covered_weight_sparse(cost, weights, thr, res.open_sites)
            rec["objective_recomputed"] = indep
            rec["check_ok"] = (
                abs(indep - res.objective) <= 1e-6 * max(1.0, indep)
                and res.selected.size <= p
                and res.best_bound >= res.objective - 1e-6 * max(1.0, indep)
            )
            if not rec["check_ok"]:
                problems.append(
                    f"MCLP side={side} p={p}: reported objective {res.objective:.10g}, "
                    f"bound {res.best_bound:.10g}, {res.selected.size} sites; recomputed "
                    f"coverage {indep:.10g}"
                )
            rec["target_met"] = res.status == "OPTIMAL" and wall < TARGET_MCLP_S
            rec["previous"] = previous_mclp(args, side, p)
            if not rec["target_met"]:
                problems.append(
                    f"MCLP {args.mclp_n:,} x {args.candidates:,} side={side} p={p}: target missed "
                    f"(status {res.status}, gap {res.gap:.3g}, {wall:.1f} s, limit {args.mclp_limit:g} s; "
                    f"coverage {res.details.get('coverage_fraction', float('nan')):.4f})"
                )
            large.append(rec)
            print(
                f"  p={p}: {wall:.1f} s (from_cost_matrix {t_model:.2f} s) {res.status} "
                f"obj={res.objective:.10g} bound={res.best_bound:.10g} gap={res.gap:.3g} "
                f"groups={res.details.get('demand_groups')} "
                f"coverage={res.details.get('coverage_fraction', float('nan')):.4f} "
                f"recheck={'ok' if rec['check_ok'] else 'FAIL'}; other procs "
                f"{nz['other_procs_cpu_share'] * 100:.0f}%",
                flush=True,
            )
            del model, res
            gc.collect()

        # ---- subsample: ours vs spopt on the same rows
        n_sub = min(args.sub_n, args.mclp_n)
        rows = np.sort(
            np.random.default_rng(args.seed + 1).choice(args.mclp_n, n_sub, replace=False)
        )
        sc = cost[rows].tocsr()
        sw = weights[rows]
        del city, cost, weights
        gc.collect()
        dense = None
        for p in args.sub_ps:
            print(
                f"[mclp-sub] {n_sub:,} x {args.candidates:,} rows of side={side}, p={p}", flush=True
            )
            rec = {
                "side": side,
                "n_demand": n_sub,
                "n_candidates": args.candidates,
                "p": p,
                "nnz": int(sc.nnz),
            }
            samples, res, model = [], None, None
            idle(f"mclp_sub_{side}_{p}_ours")
            meter = CpuMeter()
            for _ in range(args.repeats):
                if sum(samples) > REPEAT_BUDGET_S:  # slow (time-limited) solves are not repeated
                    break
                w0 = time.perf_counter()
                model = MCLP.from_cost_matrix(sc, sw, threshold=thr, p=p)
                res = model.solve(
                    time_limit_s=args.mclp_limit,
                    threads=args.threads,
                    seed=args.seed,
                    solver=args.mclp_solver,
                )
                samples.append(time.perf_counter() - w0)
            rec["ours"] = mclp_record(res, statistics.median(samples), 0.0)
            rec["ours"]["samples_s"] = [round(s, 4) for s in samples]
            rec["ours"]["noise"] = meter.stop()
            try:
                check_result("mclp", model.raw, res)
                rec["ours"]["check_ok"] = True
            except CheckerError as exc:
                rec["ours"]["check_ok"] = False
                problems.append(f"MCLP subsample side={side} p={p}: check_result failed: {exc}")
            ours_t = rec["ours"]["wall_s"]
            print(
                f"  ours : {ours_t:.2f} s {res.status} obj={res.objective:.10g} "
                f"groups={res.details.get('demand_groups')}",
                flush=True,
            )
            if args.no_spopt:
                rec["spopt"] = None
                subs.append(rec)
                continue
            old = reused_spopt_sub(args, rec)
            if old is not None:
                rec["spopt"] = dict(old, reused=True)
                print("  spopt: reusing the record of --reuse (same instance and settings)")
            else:
                if dense is None:
                    coo = sc.tocoo()
                    dense = np.full(sc.shape, np.inf)
                    # stored entries (explicit zeros too); the rest is unreachable
                    dense[coo.row, coo.col] = coo.data
                gc.collect()
                idle(f"mclp_sub_{side}_{p}_spopt")
                rec["spopt"] = run_spopt(
                    partial(SpMCLP.from_cost_matrix, dense, sw, service_radius=thr, p_facilities=p),
                    pulp,
                    args.spopt_limit,
                    partial(covered_weight_sparse, sc, sw, thr),
                )
            sr = rec["spopt"]
            t_total, t_build, obj, err = sr["total_s"], sr["build_s"], sr["objective"], sr["error"]
            hit, recomputed, nzs = sr["hit_time_limit"], sr["objective_recomputed"], sr["noise"]
            if err is not None:
                obj = math.nan
            rec["ratio_spopt_over_ours"] = t_total / ours_t
            both_opt = err is None and not hit and res.status == "OPTIMAL"
            same = err is not None or abs(obj - res.objective) <= 1e-6 * max(1.0, abs(obj))
            rec["same_objective"] = bool(
                err is None and abs(obj - res.objective) <= 1e-6 * max(1.0, abs(obj))
            )
            if both_opt and not same:
                problems.append(
                    f"MCLP subsample side={side} p={p}: proven optima differ: ours "
                    f"{res.objective:.10g}, spopt {obj:.10g}"
                )
            if (
                err is None
                and res.status == "OPTIMAL"
                and obj > res.objective + 1e-6 * max(1.0, obj)
            ):
                problems.append(
                    f"MCLP subsample side={side} p={p}: spopt covers {obj:.10g} > our "
                    f"'optimal' {res.objective:.10g}"
                )
            if (
                err is None
                and obj > res.objective + 1e-6 * max(1.0, obj)
                and res.status != "OPTIMAL"
            ):
                problems.append(
                    f"MCLP subsample {n_sub:,} x {args.candidates:,} side={side} p={p}: spopt/CBC "
                    f"found a better solution ({obj:.10g}, {rec['spopt']['sol_status']}, "
                    f"{t_total:.0f} s) than ours ({res.objective:.10g}, {res.status}, gap "
                    f"{res.gap:.3g}, {ours_t:.0f} s)"
                )
            if err is None and abs(recomputed - obj) > 1e-6 * max(1.0, obj):
                problems.append(
                    f"MCLP subsample side={side} p={p}: spopt objective {obj:.10g} but its "
                    f"sites cover {recomputed:.10g}"
                )
            print(
                f"  spopt: {t_total:.1f} s (PuLP build {t_build:.1f} s) {rec['spopt']['status']}/"
                f"{rec['spopt']['sol_status']} obj={obj:.10g}{' (HIT TIME LIMIT)' if hit else ''} "
                f"ratio {t_total / ours_t:.1f}x; other procs "
                f"{nzs['other_procs_cpu_share'] * 100:.0f}%",
                flush=True,
            )
            subs.append(rec)
        del dense, sc
        gc.collect()
    return {"large": large, "subsample": subs, "problems": problems}


def previous_mclp(args, side: int, p: int) -> dict | None:
    """Our record for the same 1M-point instance in ``--reuse`` (same size, seed, threshold
    and limit), to show the gap before and after this run's code; None without one."""
    old = getattr(args, "reuse_data", None)
    if not old or "mclp" not in old:
        return None
    oc = old["config"]
    same = all(
        oc.get(k) == getattr(args, k)
        for k in ("mclp_n", "candidates", "seed", "threshold", "mclp_limit")
    )
    for x in old["mclp"].get("large", []) if same else []:
        if x["side"] == side and x["p"] == p:
            return {
                "gap": x["gap"],
                "objective": x["objective"],
                "best_bound": x["best_bound"],
                "status": x["status"],
                "date": old["machine"]["date"],
                "git_commit": old["machine"]["git_commit"],
            }
    return None


def reused_spopt_pmed(args, name: str) -> dict | None:
    """spopt's record for OR-Library instance ``name`` from ``--reuse`` (same CBC limit), or
    None: spopt's run does not depend on our code, so only ours is rerun."""
    old = getattr(args, "reuse_data", None)
    if not old or old["config"].get("spopt_limit") != args.spopt_limit:
        return None
    for row in old.get("pmedian", {}).get("instances", []):
        if row["instance"] == name and row.get("spopt"):
            return row["spopt"]
    return None


def bench_pmedian_large(args, pulp, SpPMedian, noise: dict, idle) -> dict:
    """Generated OR-Library-family instances (``beasley_pmed``), n = 500-900, small p:
    ours once (the target: proven optimal within ``--large-limit`` s each), checked; spopt
    + CBC once with ``--large-spopt-limit`` (0 = not run)."""
    import numpy as np

    from planner._errors import CheckerError
    from planner.siting import PMedian, check_result
    from planner.siting.instances.orlib import beasley_pmed

    rows, problems = [], []
    for seed, (n, p) in ((s, np_) for s in args.large_seeds for np_ in args.large):
        inst = beasley_pmed(n, p, seed=seed)  # graph + shortest paths: not timed
        print(f"[pmedian-large] {inst.name}", flush=True)
        idle(f"pmedian_large_{inst.name}")
        meter = CpuMeter()
        w0 = time.perf_counter()
        model = PMedian.from_cost_matrix(inst.cost, p=p)
        res = model.solve(time_limit_s=args.large_limit, threads=args.threads, seed=args.seed)
        wall = time.perf_counter() - w0
        nz = meter.stop()
        try:
            check_result("pmedian", model.raw, res)
            ok = True
        except CheckerError as exc:
            ok = False
            problems.append(f"{inst.name}: our PMedian failed check_result: {exc}")
        met = res.status == "OPTIMAL" and wall <= args.large_limit
        if not met:
            problems.append(
                f"{inst.name}: not proven within {args.large_limit:g} s "
                f"(status {res.status}, gap {res.gap:.3g}, {wall:.1f} s)"
            )
        row: dict = {
            "instance": inst.name,
            "n": n,
            "p": p,
            "seed": seed,
            "ours": {
                "wall_s": wall,
                "status": res.status,
                "objective": res.objective,
                "best_bound": res.best_bound,
                "gap": res.gap,
                "solver": res.solver,
                "selected": res.selected.tolist(),
                "details": {
                    k: v for k, v in res.details.items() if isinstance(v, int | float | str)
                },
                "check_ok": ok,
                "noise": nz,
            },
            "target_met": met,
        }
        print(
            f"  ours : {wall:.2f} s {res.status} obj={res.objective:.10g} gap={res.gap:.3g} "
            f"solver={res.solver} check={'ok' if ok else 'FAIL'}; other procs "
            f"{nz['other_procs_cpu_share'] * 100:.0f}%",
            flush=True,
        )
        if SpPMedian is not None and args.large_spopt_limit > 0:
            idle(f"pmedian_large_{inst.name}_spopt")
            sr = run_spopt(
                partial(SpPMedian.from_cost_matrix, inst.cost, np.ones(n), p_facilities=p),
                pulp,
                args.large_spopt_limit,
                partial(pmedian_cost, inst.cost),
            )
            row["spopt"] = sr
            row["ratio_spopt_over_ours"] = sr["total_s"] / wall
            if sr["error"] is None and res.status == "OPTIMAL":
                if sr["objective"] < res.objective - 0.5:
                    problems.append(
                        f"{inst.name}: spopt objective {sr['objective']:.10g} below our proven "
                        f"optimum {res.objective:.10g}"
                    )
                if not sr["hit_time_limit"] and abs(sr["objective"] - res.objective) >= 0.5:
                    problems.append(
                        f"{inst.name}: spopt proven optimum {sr['objective']:.10g} != ours "
                        f"{res.objective:.10g}"
                    )
            print(
                f"  spopt: {sr['total_s']:.1f} s (PuLP build {sr['build_s']:.1f} s) "
                f"{sr['status']}/{sr['sol_status']} obj={sr['objective']:.10g}"
                f"{' (HIT TIME LIMIT)' if sr['hit_time_limit'] else ''}",
                flush=True,
            )
        rows.append(row)
    el = sum(r["ours"]["noise"]["elapsed_s"] for r in rows)
    noise["pmedian_large_ours"] = {
        "elapsed_s": round(el, 2),
        "other_procs_cpu_share": round(
            sum(
                r["ours"]["noise"]["other_procs_cpu_share"] * r["ours"]["noise"]["elapsed_s"]
                for r in rows
            )
            / max(el, 1e-9),
            3,
        ),
    }
    return {"instances": rows, "problems": problems}


def reused_spopt_sub(args, rec) -> dict | None:
    """spopt's record for the same subsample from ``--reuse`` (spopt's run does not depend on
    our code), or None."""
    old = getattr(args, "reuse_data", None)
    if not old:
        return None
    keys = ("seed", "threshold", "cutoff", "spopt_limit", "sub_n", "candidates", "mclp_n")
    if any(old["config"].get(k) != getattr(args, k) for k in keys):
        return None
    for x in old.get("mclp", {}).get("subsample", []):
        same = all(x.get(k) == rec[k] for k in ("side", "p", "n_demand", "n_candidates", "nnz"))
        if same and x.get("spopt"):
            return x["spopt"]
    return None


# --------------------------------------------------------------------------- machine info
def siting_digest() -> str:
    """SHA-1 over planner/siting/**/*.py (the models and their sub-packages) as imported,
    each file named by its path inside the package (others may edit the tree during a
    run)."""
    import hashlib

    import planner.siting as ps

    root = Path(ps.__file__).parent
    h = hashlib.sha1()
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def versions(pulp) -> dict:
    import numpy
    import ortools
    import scipy

    v = {"numpy": numpy.__version__, "scipy": scipy.__version__, "ortools": ortools.__version__}
    try:
        import pyscipopt

        v["pyscipopt"] = pyscipopt.__version__
        sm = pyscipopt.Model()
        v["scip"] = f"{sm.getMajorVersion()}.{sm.getMinorVersion()}.{sm.getTechVersion()}"
    except Exception:  # noqa: BLE001 - informational only (the MCLP then falls back)
        v["pyscipopt"] = v["scip"] = "not installed"
    if pulp is not None:
        from importlib.metadata import version

        v["spopt"] = version("spopt")
        v["pulp"] = pulp.__version__
        try:
            cbc = pulp.PULP_CBC_CMD().path
            txt = subprocess.run([cbc, "-quit"], capture_output=True, text=True, timeout=30).stdout
            v["cbc"] = next(
                (
                    ln.split(":", 1)[1].strip()
                    for ln in txt.splitlines()
                    if ln.startswith("Version")
                ),
                "",
            )
        except Exception:  # noqa: BLE001 - informational only
            v["cbc"] = ""
    return v


# --------------------------------------------------------------------------- report
def fmt_ratio(v: float) -> str:
    return f"{v:.1f}x" if v < 10 else f"{v:.0f}x"


def fmt_obj(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:,.0f}" if float(v) == round(float(v)) else f"{v:,.3f}"


def markdown(r: dict) -> str:
    cfg, m = r["config"], r["machine"]
    pf = {True: "PASS", False: "FAIL"}
    L: list[str] = []
    pm = r.get("pmedian")
    if pm:
        has_sp = "spopt_total_s" in pm
        L.append(f"### p-median, OR-Library {cfg['instances'][0]}..{cfg['instances'][-1]}")
        L.append("")
        ru = r.get("spopt_reused_from")
        if ru and any((row.get("spopt") or {}).get("reused") for row in pm["instances"]):
            L.append(
                f"(Ours rerun here; spopt's runs taken over with `--reuse` from the run that "
                f"ended {ru['date']} (HEAD {ru['git_commit']}): same instances and CBC limit, "
                "and they do not depend on our code.)"
            )
            L.append("")
        L.append(
            "| instance | n | p | optimum | ours | ours objective | ours status | spopt + CBC | "
            "spopt objective | spopt status | spopt / ours |"
        )
        L.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for row in pm["instances"]:
            o, s = row["ours"], row.get("spopt")
            ostat = o["status"] + ("" if o["check"]["ok"] else ", checker FAIL")
            if s:
                lb = ">= " if s["hit_time_limit"] else ""
                sstat = ("time limit, " + s["sol_status"]) if s["hit_time_limit"] else "optimal"
                if s["error"]:
                    sstat = "time limit, no solution"
                scol = f"{lb}{fmt_s(s['total_s'])}"
                ratio = f"{lb}{fmt_ratio(row['ratio_spopt_over_ours'])}"
                sobj = fmt_obj(s["objective"])
            else:
                scol, ratio, sobj, sstat = "-", "-", "-", "not run"
            L.append(
                f"| {row['instance']} | {row['n']} | {row['p']} | {fmt_obj(row['optimum'])} | "
                f"{fmt_s(o['wall_median_s'])} | {fmt_obj(o['objective'])} | {ostat} | {scol} | "
                f"{sobj} | {sstat} | {ratio} |"
            )
        if has_sp:
            lb = ">= " if pm["ratio_total_is_lower_bound"] else ""
            L.append(
                f"| **total** | | | | **{fmt_s(pm['ours_total_s'])}** | | | "
                f"**{lb}{fmt_s(pm['spopt_total_s'])}** | | | **{lb}{fmt_ratio(pm['ratio_total'])}** |"
            )
        L.append("")
        if has_sp:
            t = r["targets"]
            lim = pm["spopt_hit_limit"]
            L.append(
                f"Total over {len(pm['instances'])} instances: ours {fmt_s(pm['ours_total_s'])}, spopt "
                f"{lb}{fmt_s(pm['spopt_total_s'])} (of which PuLP model building "
                f"{fmt_s(pm['spopt_build_total_s'])}) = {lb}{pm['ratio_total']:.1f}x "
                f"(target >= {TARGET_PMEDIAN_SPEEDUP:g}x with the same optimum: "
                f"**{pf[t['pmedian_speedup']]}**; ours = known optimum, proven, on all "
                f"{len(pm['instances'])}: {pf[pm['ours_all_optimal']]}; spopt reached the same "
                f"optimum on {len(pm['spopt_optimal_on'])} of {len(pm['instances'])}, no proven "
                f"optimum differs: {pf[pm['all_same_optimum']]}; "
                f"`check_result` on all: {pf[pm['ours_all_checked']]})."
                + (
                    f" CBC hit the {cfg['spopt_limit']:g} s limit on {', '.join(lim)} (its limit is "
                    "only checked between search steps, so it can overrun): its time there is a "
                    "lower bound, so the total ratio is a lower bound too."
                    if lim
                    else ""
                )
            )
            L.append("")
        L.append(
            f"Ours: `PMedian.from_cost_matrix(cost, p=p).solve(threads={cfg['threads']})`, median of "
            f"up to {cfg['repeats']} runs (not repeated after {REPEAT_BUDGET_S:g} s), time from the distance matrix to the result. spopt: "
            "`spopt.locate.PMedian.from_cost_matrix(cost, ones, p_facilities=p).solve("
            f"pulp.PULP_CBC_CMD(msg=False, timeLimit={cfg['spopt_limit']:g}))`, once, time = PuLP "
            "model build + CBC (its default: one thread) + spopt's result arrays. Reading the "
            "instance (shortest paths) is timed for neither."
        )
        L.append("")
    lg = r.get("pmedian_large")
    if lg:
        L.append(
            f"### p-median, generated OR-Library-family instances (Beasley 1985 construction, "
            f"seeds {', '.join(str(s) for s in cfg['large_seeds'])})"
        )
        L.append("")
        L.append(
            "| instance | n | p | ours | status | objective | gap | residual solve | "
            "other procs' CPU | spopt + CBC | spopt objective | spopt status | spopt / ours | "
            f"target (OPTIMAL < {cfg['large_limit']:g} s) |"
        )
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for row in lg["instances"]:
            o, sp = row["ours"], row.get("spopt")
            d = o["details"]
            how = o["solver"] + (
                f" ({d['residual_undecided']} columns, {d['bnb_nodes']} nodes, "
                f"{d.get('bnb_probed', 0)} probed)"
                if "bnb_nodes" in d
                else ""
            )
            if sp:
                lb = ">= " if sp["hit_time_limit"] else ""
                sstat = "time limit, " + sp["sol_status"] if sp["hit_time_limit"] else "optimal"
                if sp["error"]:
                    sstat = "time limit, no solution"
                scells = (
                    f"{lb}{fmt_s(sp['total_s'])} | {fmt_obj(sp['objective'])} | {sstat} | "
                    f"{lb}{fmt_ratio(row['ratio_spopt_over_ours'])}"
                )
            else:
                scells = "- | - | not run | -"
            L.append(
                f"| {row['instance']} | {row['n']} | {row['p']} | {fmt_s(o['wall_s'])} | "
                f"{o['status'] + ('' if o['check_ok'] else ', checker FAIL')} | "
                f"{fmt_obj(o['objective'])} | {o['gap'] * 100:.2f}% | {how} | "
                f"{o['noise']['other_procs_cpu_share'] * 100:.0f}% | {scells} | "
                f"{pf[row['target_met']]} |"
            )
        L.append("")
        walls = [row["ours"]["wall_s"] for row in lg["instances"]]
        n_opt = sum(row["ours"]["status"] == "OPTIMAL" for row in lg["instances"])
        L.append(
            f"{n_opt} of {len(walls)} proven optimal; slowest {fmt_s(max(walls))}, median "
            f"{fmt_s(statistics.median(walls))}, total {fmt_s(sum(walls))}."
        )
        L.append("")
        L.append(
            "`planner.siting.instances.orlib.beasley_pmed(n, p, seed=...)`: a random spanning "
            "tree plus random edges up to n^2/50 in all (the OR-Library count), integer lengths "
            "1..100, shortest paths (not timed); same family as pmed21-40, not the published "
            "files. Ours: `PMedian.from_cost_matrix(cost, p=p).solve(time_limit_s="
            f"{cfg['large_limit']:g}, threads={cfg['threads']})`, one run, `check_result` on "
            "each. Residual solve: `lagrangian` = closed at the root (bound, reductions, "
            "probing); `lagrangian-bnb` = the branch-and-bound with strong branching on the "
            "columns the root left undecided (nodes solved; columns fixed at a node because a "
            "strong-branching child was pruned). Other procs' CPU = share of the machine's "
            "CPU used by other processes during that solve (the machine is shared). "
            "spopt as above with "
            + (
                f"a {cfg['large_spopt_limit']:g} s CBC limit (a time at the limit is a lower "
                "bound, so is the ratio)."
                if cfg["large_spopt_limit"] > 0
                else "no run (`--large-spopt-limit 0`)."
            )
        )
        L.append("")
    mc = r.get("mclp")
    if mc:
        ru = r.get("mclp_reused_from")
        if ru:
            L.append(
                f"(MCLP figures from the run that ended {ru['date']}, planner/siting digest "
                f"{ru['planner_siting_sha1_at_start']} (HEAD was {ru['git_commit']}); "
                "carried over with `--reuse --skip-mclp`: not rerun.)"
            )
            L.append("")
        L.append(
            f"### MCLP, synthetic {cfg['mclp_n']:,} demand points x {cfg['candidates']:,} candidates, "
            f"threshold {cfg['threshold']:g} s"
        )
        L.append("")
        L.append(
            "| grid | nnz (pairs <= 600 s) | instance build | p | model + solve | status | covered weight "
            "| coverage | gap | LP bound (time) | fixed closed / open by the LP | B&B nodes "
            "| gap before (covered) | demand groups "
            "| candidates in model | target (OPTIMAL < 60 s) |"
        )
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for x in mc["large"]:
            d = x["details"]
            L.append(
                f"| {x['side']}x{x['side']} ({x['grid_km']:g} km) | {x['nnz']:,} | {fmt_s(x['build_s'])} | "
                f"{x['p']} | {fmt_s(x['wall_s'])} | {x['status']} ({x['solver']}) | "
                f"{fmt_obj(x['objective'])} | "
                f"{d.get('coverage_fraction', float('nan')) * 100:.2f}% | {x['gap'] * 100:.2f}% | "
                f"{lp_cell(d)} | {fixed_cell(d)} | {d.get('benders_nodes', '-')} | "
                f"{previous_cell(x.get('previous'))} | "
                f"{d.get('demand_groups', '-'):,} | {d.get('model_candidates', '-')} | "
                f"{pf[x['target_met']]} |"
            )
        L.append("")
        L.append(
            f"`synthetic_city(n, {cfg['candidates']}, rng=np.random.default_rng({cfg['seed']}), side=..., "
            f"cutoff_s={cfg['cutoff']:g})` (200 m grid spacing, 20-60 km/h streets, 8 demand clusters "
            "+ 20 % uniform, weights 1-3); instance build not part of the solve time. Model + solve = "
            f"`MCLP.from_cost_matrix(cost, weights, threshold={cfg['threshold']:g}, p=p)` + "
            f"`.solve(time_limit_s={cfg['mclp_limit']:g}, threads={cfg['threads']}"
            + (
                ""
                if cfg.get("mclp_solver", "auto") == "auto"
                else f", solver='{cfg['mclp_solver']}'"
            )
            + ")`, one run. Demand "
            "groups = rows left after merging identical coverage sets (`result.details`). LP bound = "
            "the exact LP relaxation (its dual on HiGHS), '-' where the instance closed before it; "
            "fixed = candidates reduced-cost fixing closed / opened (after the iterated (or kernel) search's "
            "better incumbent, where that fixed more). The "
            "objective is re-computed from the sparse matrix for every run (all agree unless listed "
            "under problems). B&B nodes = nodes of the final branch-and-Benders-cut search "
            "(`details['benders_nodes']`). Gap before = our run of the same instance in the file "
            "given to `--reuse`"
            + (
                f" ({prev_dates[0]})"
                if (prev_dates := [x["previous"]["date"] for x in mc["large"] if x.get("previous")])
                else ""
            )
            + "."
        )
        L.append("")
        if mc["subsample"]:
            L.append(
                f"MCLP subsample: ours vs spopt on the same {cfg['sub_n']:,} random rows x "
                f"{cfg['candidates']:,} candidates:"
            )
            L.append("")
            L.append(
                "| grid | p | ours | ours status | ours covered | spopt + CBC | spopt build | "
                "spopt status | spopt covered | same | spopt / ours |"
            )
            L.append("|---|---|---|---|---|---|---|---|---|---|---|")
            for x in mc["subsample"]:
                o, s = x["ours"], x.get("spopt")
                if s:
                    lb = ">= " if s["hit_time_limit"] else ""
                    sstat = ("time limit, " + s["sol_status"]) if s["hit_time_limit"] else "optimal"
                    L.append(
                        f"| {x['side']}x{x['side']} | {x['p']} | {fmt_s(o['wall_s'])} | {o['status']} ({o['solver']}) | "
                        f"{fmt_obj(o['objective'])} | {lb}{fmt_s(s['total_s'])} | {fmt_s(s['build_s'])} | "
                        f"{sstat} | {fmt_obj(s['objective'])} | {'yes' if x['same_objective'] else 'NO'} | "
                        f"{lb}{fmt_ratio(x['ratio_spopt_over_ours'])} |"
                    )
                else:
                    L.append(
                        f"| {x['side']}x{x['side']} | {x['p']} | {fmt_s(o['wall_s'])} | {o['status']} ({o['solver']}) | "
                        f"{fmt_obj(o['objective'])} | - | - | not run | - | - | - |"
                    )
            L.append("")
            L.append(
                f"Ours: median of up to {cfg['repeats']} runs (not repeated after {REPEAT_BUDGET_S:g} s), "
                "`check_result('mclp', ...)` passed unless listed "
                "below. spopt: `spopt.locate.MCLP.from_cost_matrix(dense, weights, "
                f"service_radius={cfg['threshold']:g}, p_facilities=p).solve(pulp.PULP_CBC_CMD("
                f"msg=False, timeLimit={cfg['spopt_limit']:g}))` on the dense matrix (inf = beyond the "
                "cutoff); time = PuLP build + CBC + result arrays."
                + (
                    " spopt's runs were taken over from the earlier run given to `--reuse` (same "
                    "rows, same settings; they do not depend on our code)."
                    if any((x.get("spopt") or {}).get("reused") for x in mc["subsample"])
                    else ""
                )
            )
            L.append("")
    probs = r["problems"]
    L.append("Problems found: " + ("none." if not probs else ""))
    for pr in probs:
        L.append(f"- {pr}")
    L.append("")
    nz = r["noise"]
    shares = ", ".join(
        f"{k} {v['other_procs_cpu_share'] * 100:.0f}%"
        for k, v in nz.items()
        if isinstance(v, dict) and "other_procs_cpu_share" in v
    )
    L.append(
        f"Machine: {m['cpu_count']} CPUs ({m['cpu_model']}), {m['mem_total_gb']:g} GB, Python {m['python']}, "
        f"numpy {m['numpy']}, scipy {m['scipy']}, OR-Tools {m['ortools']}"
        + (f", PySCIPOpt {m['pyscipopt']} (SCIP {m['scip']})" if "pyscipopt" in m else "")
        + (
            f", spopt {m['spopt']}, PuLP {m['pulp']}, CBC {m.get('cbc') or '?'}"
            if "spopt" in m
            else ""
        )
        + (
            "; WARNING: planner/siting changed on disk during the run (the run used the code "
            f"imported at its start, digest {m['planner_siting_sha1_at_start']})"
            if m.get("planner_siting_sha1_at_start", m["planner_siting_sha1"])
            != m["planner_siting_sha1"]
            else f"; planner/siting digest {m['planner_siting_sha1']}"
        )
        + f"; commit {m['git_commit']}{' + uncommitted planner/siting' if m['planner_siting_modified'] else ''}, "
        f"{m['date']}. Shared machine: share of the CPU used by other processes during each section: "
        f"{shares}."
    )
    return "\n".join(L) + "\n"


def _json_default(o):
    try:
        import numpy as np

        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return float(o)
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(o)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: pmed1-3, 100,000-point MCLP, 2,000-point subsample, 1 repeat; "
        "writes nothing unless --out is given",
    )
    ap.add_argument(
        "--instances",
        default=None,
        help="comma-separated OR-Library names (default pmed1..pmed20; quick pmed1..pmed3)",
    )
    ap.add_argument(
        "--repeats", type=int, default=None, help="runs of our solves (median; default 3)"
    )
    ap.add_argument(
        "--our-limit", type=float, default=60.0, help="time limit of our p-median solve (s)"
    )
    ap.add_argument(
        "--spopt-limit",
        type=float,
        default=300.0,
        help="CBC time limit per spopt solve (s, default 300)",
    )
    ap.add_argument(
        "--threads", type=int, default=2, help="threads for our OR-Tools backends (default 2)"
    )
    ap.add_argument(
        "--mclp-n", type=int, default=None, help="MCLP demand points (default 1,000,000)"
    )
    ap.add_argument("--candidates", type=int, default=1000, help="MCLP candidates (default 1,000)")
    ap.add_argument("--ps", default="5,10,20,50", help="MCLP p values (default 5,10,20,50)")
    ap.add_argument(
        "--sides",
        default="150,300",
        help="synthetic grid sides (200 m spacing; default 150 = 30 km, 300 = 60 km)",
    )
    ap.add_argument("--threshold", type=float, default=600.0, help="MCLP coverage threshold (s)")
    ap.add_argument(
        "--cutoff", type=float, default=None, help="synthetic_city cutoff_s (default = threshold)"
    )
    ap.add_argument(
        "--mclp-limit",
        type=float,
        default=60.0,
        help="time limit of our MCLP solves (s, default 60 = the target)",
    )
    ap.add_argument(
        "--mclp-solver",
        default="auto",
        choices=["auto", "cp-sat", "scip", "highs"],
        help="backend of our MCLP solves (default auto = the model's own default)",
    )
    ap.add_argument(
        "--sub-n", type=int, default=None, help="subsample rows for spopt MCLP (default 10,000)"
    )
    ap.add_argument("--sub-ps", default=None, help="p values on the subsample (default = --ps)")
    ap.add_argument(
        "--large",
        default=None,
        help="generated p-median instances as n:p pairs (default n = 500..900 x p = 5, 10; "
        "quick 300:5)",
    )
    ap.add_argument(
        "--large-seeds",
        default="1,2,3",
        help="seeds of beasley_pmed, comma-separated (default 1,2,3: 30 instances)",
    )
    ap.add_argument(
        "--large-limit",
        type=float,
        default=60.0,
        help="time limit of our solves on them (s, default 60 = the target)",
    )
    ap.add_argument(
        "--large-spopt-limit",
        type=float,
        default=60.0,
        help="CBC limit for spopt on them (s, default 60; 0 = do not run spopt there)",
    )
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--skip-pmedian", action="store_true")
    ap.add_argument("--skip-mclp", action="store_true")
    ap.add_argument("--no-spopt", action="store_true", help="run our models only (no comparison)")
    ap.add_argument("--seed", type=int, default=20120313)
    ap.add_argument(
        "--data", default=None, help="data folder (default $EVPLAN_DATA_DIR or ../shared/data)"
    )
    ap.add_argument(
        "--out",
        default=None,
        help="output prefix (default benchmarks/results/siting -> .md and .json)",
    )
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each timed section wait up to S seconds for other processes to use "
        "< 25%% of the CPU (default 0 = do not wait)",
    )
    ap.add_argument(
        "--reuse",
        default=None,
        metavar="JSON",
        help="take spopt's p-median and MCLP-subsample runs (which do not depend on our code) "
        "from an earlier siting.json with the same settings and rerun ours; with --skip-mclp "
        "also carry its MCLP section over (marked as such)",
    )
    ap.add_argument("--strict", action="store_true", help="exit 1 also when a target is missed")
    args = ap.parse_args(argv)
    q = args.quick
    args.instances = (
        args.instances.split(",")
        if args.instances
        else [f"pmed{i}" for i in range(1, 4 if q else 21)]
    )
    if args.repeats is None:
        args.repeats = 1 if q else 3
    if args.mclp_n is None:
        args.mclp_n = 100_000 if q else 1_000_000
    if args.sub_n is None:
        args.sub_n = 2_000 if q else 10_000
    if args.cutoff is None:
        args.cutoff = args.threshold
    args.large = (
        [tuple(int(v) for v in a.split(":")) for a in args.large.split(",")]
        if args.large
        else [(300, 5)]
        if q
        else [(n, p) for n in (500, 600, 700, 800, 900) for p in (5, 10)]
    )
    args.large_seeds = _ints(args.large_seeds)
    args.reuse_data = json.loads(Path(args.reuse).read_text()) if args.reuse else None
    args.ps = _ints(args.ps)
    args.sides = _ints(args.sides)
    args.sub_ps = _ints(args.sub_ps) if args.sub_ps else list(args.ps)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    if args.cutoff < args.threshold:
        ap.error("--cutoff below --threshold would silently shrink the coverage radius")

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("planner").setLevel(logging.ERROR)
    pulp = SpPMedian = SpMCLP = None
    if not args.no_spopt:
        pulp, SpPMedian, SpMCLP = import_spopt()

    noise: dict = {}
    idle = (
        (lambda label: noise.setdefault("wait_" + label, wait_idle(args.wait_idle)))
        if args.wait_idle > 0
        else (lambda label: None)
    )
    cfg = {
        k: getattr(args, k)
        for k in (
            "quick",
            "instances",
            "repeats",
            "our_limit",
            "spopt_limit",
            "threads",
            "mclp_n",
            "candidates",
            "ps",
            "sides",
            "threshold",
            "cutoff",
            "mclp_limit",
            "mclp_solver",
            "sub_n",
            "sub_ps",
            "seed",
            "no_spopt",
            "large",
            "large_seeds",
            "large_limit",
            "large_spopt_limit",
        )
    }
    result: dict = {"config": cfg, "problems": []}
    # import every module under test now, so the digest describes the code that runs
    import planner.siting  # noqa: F401
    import planner.siting.checker  # noqa: F401
    import planner.siting.instances.orlib  # noqa: F401
    import planner.siting.instances.synthetic  # noqa: F401

    digest_start = siting_digest()
    commit_start = git("rev-parse", "--short", "HEAD")
    t0 = time.perf_counter()
    old = args.reuse_data
    if not args.skip_pmedian:
        result["pmedian"] = bench_pmedian(args, pulp, SpPMedian, noise, idle)
        result["problems"] += result["pmedian"]["problems"]
    if not args.skip_large:
        result["pmedian_large"] = bench_pmedian_large(args, pulp, SpPMedian, noise, idle)
        result["problems"] += result["pmedian_large"]["problems"]
    if not args.skip_mclp:
        result["mclp"] = bench_mclp(args, pulp, SpMCLP, noise, idle)
        result["problems"] += result["mclp"]["problems"]
        for x in result["mclp"]["large"]:
            noise[f"mclp_{x['side']}_p{x['p']}"] = x["noise"]
    if old:
        result["spopt_reused_from"] = {
            "file": args.reuse,
            "date": old["machine"]["date"],
            "git_commit": old["machine"]["git_commit"],
        }
    if args.skip_mclp and old and "mclp" in old:
        result["mclp"] = old["mclp"]
        result["problems"] += old["mclp"]["problems"]
        for k, v in old.get("noise", {}).items():
            if k.startswith("mclp_"):
                noise[k] = v
        for k in ("mclp_n", "candidates", "seed", "cutoff", "threshold", "mclp_limit", "sub_n"):
            cfg[k] = old["config"][k]
        result["mclp_reused_from"] = {
            "file": args.reuse,
            "date": old["machine"]["date"],
            "git_commit": old["machine"]["git_commit"],
            "planner_siting_sha1_at_start": old["machine"].get("planner_siting_sha1_at_start"),
        }
        print(f"[mclp] carried over from {args.reuse} (run of {old['machine']['date']})")
    result["noise"] = noise
    result["run_wall_s"] = time.perf_counter() - t0
    result["machine"] = machine_info(
        versions(pulp),
        planner_siting_modified=bool(git("status", "--porcelain", "planner/siting")),
        planner_siting_sha1=siting_digest(),
    )
    result["machine"]["planner_siting_sha1_at_start"] = digest_start
    result["machine"]["git_commit_at_start"] = commit_start

    targets: dict = {}
    pm = result.get("pmedian")
    if pm and "ratio_total" in pm:
        targets["pmedian_speedup"] = bool(
            pm["ratio_total"] >= TARGET_PMEDIAN_SPEEDUP and pm["all_same_optimum"]
        )
    lg = result.get("pmedian_large")
    if lg:
        targets["pmedian_large_all_optimal_in_limit"] = all(
            row["target_met"] for row in lg["instances"]
        )
    if result.get("mclp"):
        for x in result["mclp"]["large"]:
            targets[f"mclp_side{x['side']}_p{x['p']}_optimal_under_60s"] = bool(x["target_met"])
    result["targets"] = targets

    # disagreements: wrong optimum / checker failure / proven optima that differ
    disagree = []
    if pm:
        for row in pm["instances"]:
            o = row["ours"]
            if abs(o["objective"] - row["optimum"]) >= 0.5 or not o["check"]["ok"]:
                disagree.append(row["instance"])
            s = row.get("spopt")
            if (
                s
                and not s["error"]
                and not s["hit_time_limit"]
                and abs(s["objective"] - row["optimum"]) >= 0.5
            ):
                disagree.append(row["instance"] + " (spopt)")
    if lg:
        for row in lg["instances"]:
            sp = row.get("spopt")
            if not row["ours"]["check_ok"]:
                disagree.append(row["instance"] + " (checker)")
            if (
                sp
                and not sp["error"]
                and row["ours"]["status"] == "OPTIMAL"
                and (
                    sp["objective"] < row["ours"]["objective"] - 0.5
                    or (
                        not sp["hit_time_limit"]
                        and abs(sp["objective"] - row["ours"]["objective"]) >= 0.5
                    )
                )
            ):
                disagree.append(row["instance"] + " (spopt)")
    if result.get("mclp"):
        for x in result["mclp"]["large"]:
            if not x["check_ok"]:
                disagree.append(f"mclp side={x['side']} p={x['p']}")
        for x in result["mclp"]["subsample"]:
            s = x.get("spopt")
            if not x["ours"]["check_ok"]:
                disagree.append(f"mclp-sub side={x['side']} p={x['p']} (checker)")
            if s and not s["error"]:
                tol = 1e-6 * max(1.0, abs(s["objective"]))
                both = not s["hit_time_limit"] and x["ours"]["status"] == "OPTIMAL"
                if (both and abs(s["objective"] - x["ours"]["objective"]) > tol) or (
                    x["ours"]["status"] == "OPTIMAL"
                    and s["objective"] > x["ours"]["objective"] + tol
                ):
                    disagree.append(f"mclp-sub side={x['side']} p={x['p']}")
    result["disagreements"] = disagree

    md = markdown(result)
    print()
    print(md)
    for k, ok in targets.items():
        print(f"{'PASS' if ok else 'FAIL'}  {k}")
    if disagree:
        print("DISAGREEMENT: " + "; ".join(disagree))
    out = args.out or (None if q else str(REPO / "benchmarks" / "results" / "siting"))
    if out:
        write_atomic(
            Path(out + ".json"), json.dumps(result, indent=2, default=_json_default) + "\n"
        )
        write_atomic(Path(out + ".md"), md)
        print(f"wrote {out}.md and {out}.json")
    if disagree:
        return 1
    return 1 if args.strict and not all(targets.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
