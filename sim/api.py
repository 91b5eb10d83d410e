"""Entry points: :func:`simulate` (one run) and :func:`replicate` (N runs, KPI mean and
95 % interval)."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import multiprocessing as mp
import os
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from scipy import stats as sps

from networks._dijkstra_pool import in_dask_worker
from networks._orphans import exit_with_parent
from networks.road_network import RoadNetwork
from networks.validate import positive_int_env
from sim._checks import (
    as_generator,
    check_confidence,
    int_seed,
    node_values,
    received,
    require_frame,
    require_network,
    settings_or_default,
    vehicle_catalogue,
    whole_number,
)
from sim._errors import DemandError, SimSettingsError
from sim.inputs import TRIP_COLUMNS, trip_nodes, validate_stations, validate_trips
from sim.kpis import KPIS
from sim.model import Engine
from sim.results import SimulationResult, build_result
from sim.routes import RouteTables, shared_tables
from sim.settings import SimSettings
from sim.vehicles import VehicleModel

logger = logging.getLogger(__name__)

T = TypeVar("T")

SeedLike = int | np.random.Generator | np.random.SeedSequence | None


def _generator(seed: SeedLike) -> np.random.Generator:
    if seed is None:
        raise SimSettingsError(
            "simulate needs a seed (int) or rng (numpy Generator) for reproducible results"
        )
    return as_generator(seed, name="seed")


def simulate(
    network: RoadNetwork,
    stations: pd.DataFrame | None,
    trips: pd.DataFrame,
    *,
    vehicles: Mapping[str, VehicleModel] | None = None,
    settings: SimSettings | None = None,
    seed: SeedLike = 0,
    routes: RouteTables | None = None,
    reach_sites: Sequence[int] | np.ndarray | None = None,
) -> SimulationResult:
    """Simulate the trips over the network with the given stations.

    Parameters
    ----------
    network : RoadNetwork
        Road network; all node references are its node *indices*.
    stations : DataFrame or None
        Stations table (``station_id, node, plugs, power_kw`` + optional columns; see
        :mod:`sim.inputs`). ``None`` or an empty DataFrame: no public charging.
    trips : DataFrame
        Trips table (``vehicle_id, vehicle_model, origin, destination, depart_s, chain_seq``).
    vehicles : mapping, optional
        Vehicle catalogue; the built-in one by default.
    settings : SimSettings, optional
        Scenario settings (temperature, policies, balking, home charging, emission factors).
    seed : int, numpy Generator or SeedSequence
        All randomness (initial state of charge, home-charger assignment) comes from it;
        the same seed gives identical tables. ``rng=`` style: pass a Generator here.
    routes : RouteTables, optional
        Precomputed route tables to reuse (e.g. across replications).
    reach_sites : sequence of int, optional
        Node indices where a network could have a charger (a study's existing stations and
        candidate sites). A stranding on a vehicle's first leg with no public stop is
        ``started_below_reach`` (the car's, not the network's) only when none of them can be
        reached from the leg's origin with the energy the vehicle left with; otherwise it is
        ``no_charger_in_range``. Default: the stations' nodes.

    Returns
    -------
    SimulationResult

    Raises
    ------
    SimError
        A bad input, named with its value and the fix: a ``stations`` or ``trips`` that is
        not a DataFrame or is malformed (:class:`StationError`, :class:`DemandError`),
        ``settings`` that are not a :class:`SimSettings` or a bad ``seed``
        (:class:`SimSettingsError`; also ``routes`` that are not :class:`RouteTables`),
        ``vehicles`` that are not a catalogue of
        :class:`VehicleModel` (:class:`VehicleSpecError`).
    """
    require_network(network)
    settings = settings_or_default(settings)
    vehicles = vehicle_catalogue(vehicles)
    rng = _generator(seed)
    if routes is not None and not isinstance(routes, RouteTables):  # AttributeError before
        raise SimSettingsError(
            f"routes = {received(routes)} must be a sim.RouteTables "
            "(sim.routes.shared_tables(network, nodes, station_nodes)) or None"
        )
    st = validate_stations(network, stations, ac_dc_threshold_kw=settings.ac_dc_threshold_kw)
    tr = validate_trips(network, trips, vehicles)
    sites = None if reach_sites is None else site_nodes(network, reach_sites)
    eng = Engine(network, st, tr, vehicles, settings, rng, routes=routes, reach_sites=sites)
    eng.run()
    return build_result(eng)


def site_nodes(network: RoadNetwork, reach_sites: Sequence[int] | np.ndarray) -> np.ndarray:
    """``reach_sites`` as node indices of ``network`` (int64), or a
    :class:`SimSettingsError` naming the values that are not."""
    arr = np.asarray(reach_sites)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise SimSettingsError(
            f"reach_sites = {received(reach_sites)} must be a sequence of node indices (int)"
        )
    _, bad = node_values(pd.Series(arr), network.n_nodes)
    if bad.any():
        raise SimSettingsError(
            f"reach_sites holds {arr[bad][:5].tolist()}, not node indices of the network "
            f"(0 .. {network.n_nodes - 1}); pass RoadNetwork node indices, e.g. from "
            "network.snap(lon, lat)"
        )
    return arr.astype(np.int64)


def replicate(
    network: RoadNetwork,
    stations: pd.DataFrame | None,
    trips: pd.DataFrame | Callable[[np.random.Generator], pd.DataFrame],
    *,
    replications: int,
    vehicles: Mapping[str, VehicleModel] | None = None,
    settings: SimSettings | None = None,
    seed: int = 0,
    confidence: float = 0.95,
    return_runs: bool = False,
    on_run: Callable[[int, SimulationResult], None] | None = None,
    start: int = 0,
    workers: int | None = None,
    reach_sites: Sequence[int] | np.ndarray | None = None,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``replications`` independent runs and summarise every KPI.

    Seeds come from ``numpy.random.SeedSequence(seed).spawn(replications)``. ``trips`` may be
    a callable ``rng -> trips DataFrame`` to regenerate demand in every replication (with a
    generator independent of the simulation's); otherwise the same trips are reused and only
    the simulation's randomness varies. Route tables are computed once for all runs (and
    reused by later calls on the same network, :func:`sim.routes.shared_tables`).

    Runs go to a pool of ``workers`` forked processes (default
    :func:`replication_workers`: the CPUs available, one inside a Dask worker or a
    daemonic process, and one for small jobs, fewer than :data:`MIN_PARALLEL_TRIPS` trips
    over all runs). Each run's generator comes from the seed sequence by its index and
    results are gathered in run order, so the output does not depend on ``workers``;
    ``on_run`` is called in the parent, in run order. ``reach_sites``: as
    :func:`simulate`.

    Returns
    -------
    DataFrame
        Index = KPI name; columns ``mean, std, ci_low, ci_high, n`` (Student-t interval at
        ``confidence``; ``n`` counts runs where the KPI is defined). With ``return_runs``,
        also the per-run KPI table.

    Raises
    ------
    SimError
        As :func:`simulate`, and a ``trips`` callable that does not return a DataFrame
        (:class:`DemandError`).
    """
    require_network(network)
    if not whole_number(replications, at_least=1):
        raise SimSettingsError(f"replications = {replications!r} must be an integer >= 1")
    check_confidence(confidence)
    if on_run is not None and not callable(on_run):
        # checked before the first run, not called (and failing) once it is made
        raise SimSettingsError(
            f"on_run = {received(on_run)} must be a callable (run index, SimulationResult) or None"
        )
    settings = settings_or_default(settings)
    vehicles = vehicle_catalogue(vehicles)
    if not (whole_number(start, at_least=0) and start < replications):
        raise SimSettingsError(f"start = {start!r} must be in [0, {replications})")
    # runs start..replications-1 of the same seed sequence: a longer series extends a
    # shorter one run for run (``start`` skips the runs already made)
    if not int_seed(seed):
        raise SimSettingsError(f"seed = {seed!r} must be an integer >= 0")
    children = np.random.SeedSequence(seed).spawn(replications)[start:]
    if callable(trips):
        demand = [_generated(trips(np.random.default_rng(c.spawn(1)[0])), trips) for c in children]
    else:
        demand = [require_frame(trips, name="trips", columns=TRIP_COLUMNS, error=DemandError)]
        demand *= len(children)
    st = validate_stations(network, stations, ac_dc_threshold_kw=settings.ac_dc_threshold_kw)
    # (checked here as simulate checks them: the route tables come first)
    nodes = np.unique(
        np.concatenate(
            [
                np.r_[trip_nodes(network, d, "origin"), trip_nodes(network, d, "destination")]
                for d in ({id(d): d for d in demand}.values())
            ]
        )
    )
    routes = shared_tables(
        network, nodes, st["node"].to_numpy(dtype=np.int64), by_class=settings.per_class
    )
    sites = None if reach_sites is None else site_nodes(network, reach_sites)
    job = _Job(
        network, stations, demand, vehicles, settings, children, routes, on_run is not None, sites
    )
    n_workers = replication_workers(len(children), workers, trips=sum(len(d) for d in demand))
    if n_workers > 1:  # the workers inherit the trips' leg table instead of each building one
        routes.prepare_legs(nodes)
    runs = []
    # fork: the workers inherit the job (network, route tables, trips) without a copy; only
    # each run's KPIs (and, with on_run, its result) come back. Closed on the way out, also
    # when on_run raises (the pool stops with the loop)
    with contextlib.closing(forked_map(partial(_one, job), len(job.seeds), n_workers)) as made:
        for i, (kpis, res) in enumerate(made):
            runs.append(kpis)
            if on_run is not None:  # e.g. keep each run's waits for charts that match KPIs
                assert res is not None
                try:
                    on_run(start + i, res)
                except Exception:
                    raise
                except BaseException as exc:
                    # interrupted in on_run (a study makes its seed run there): raised in
                    # the pool's generator, which then stops without awaiting the running
                    # replications (closing it would await them, minutes at full scale)
                    made.throw(exc)
                    raise
            logger.info("replication %d/%d done", start + i + 1, replications)
    table = pd.DataFrame(runs)
    summary = summarise(table, confidence=confidence)
    return (summary, table) if return_runs else summary


def _generated(trips: object, make: Callable[..., object]) -> pd.DataFrame:
    """The trips table a demand callable of :func:`replicate` returned, checked to be one.

    Parameters
    ----------
    trips : object
        What the callable returned.
    make : callable
        The callable, named in the message.

    Returns
    -------
    DataFrame
        ``trips`` itself.

    Raises
    ------
    DemandError
        ``trips`` is not a DataFrame.
    """
    if isinstance(trips, pd.DataFrame):
        return trips
    name = getattr(make, "__name__", type(make).__name__)
    raise DemandError(
        f"trips callable {name} returned {received(trips)}; it must return a pandas "
        f"DataFrame with columns {', '.join(TRIP_COLUMNS)} (e.g. from sim.demand.city_trips)"
    )


def summarise(runs: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Mean, sample std and Student-t confidence interval of each column of ``runs`` (std
    and interval NaN for a column defined in one run only).

    The interval of a registered KPI (:data:`sim.kpis.KPIS`) is truncated to its ``range``.
    A ``confidence`` that is not a number in (0, 1) raises :class:`SimSettingsError`.
    """
    check_confidence(confidence)
    rows = {}
    for col in runs.columns:
        x = runs[col].to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        n = x.size
        mean = float(x.mean()) if n else np.nan
        # one run gives no spread and no interval (NaN: not a zero-width certainty)
        std = float(x.std(ddof=1)) if n > 1 else np.nan
        half = float(sps.t.ppf(0.5 + confidence / 2, n - 1) * std / np.sqrt(n)) if n > 1 else np.nan
        lo, hi = mean - half, mean + half
        # With few replications a t-interval can leave the KPI's range (a negative wait, a
        # share above 100 %); it is truncated to the range, the only values it can hold.
        # Columns that are not registered KPIs are left as computed.
        if col in KPIS:
            low, high = KPIS[col].range
            lo, hi = max(lo, low), min(hi, high)
        rows[col] = {"mean": mean, "std": std, "ci_low": lo, "ci_high": hi, "n": n}
    return pd.DataFrame.from_dict(rows, orient="index")


# --------------------------------------------------------------------------- parallel runs
@dataclass(frozen=True)
class _Job:
    """Everything a replication needs (inherited by forked workers, never serialised)."""

    network: RoadNetwork
    stations: pd.DataFrame | None
    demand: list[pd.DataFrame]
    vehicles: dict[str, VehicleModel]
    settings: SimSettings
    seeds: list[np.random.SeedSequence]
    routes: RouteTables
    keep_results: bool
    reach_sites: np.ndarray | None = None


#: Below this many trips over all runs, ``workers=None`` runs them in this process.
MIN_PARALLEL_TRIPS = 20_000


def _one(job: _Job, i: int) -> tuple[dict[str, float], SimulationResult | None]:
    """Replication ``i`` of ``job``: its KPIs, and its result when the caller keeps them."""
    res = simulate(
        job.network,
        job.stations,
        job.demand[i],
        vehicles=job.vehicles,
        settings=job.settings,
        seed=np.random.default_rng(job.seeds[i]),
        routes=job.routes,
        reach_sites=job.reach_sites,
    )
    return res.kpis(), (res if job.keep_results else None)


def replication_workers(runs: int, workers: int | None = None, *, trips: int | None = None) -> int:
    """Processes for ``runs`` replications: ``workers`` if given, else the CPUs this process
    may use (``EVPLAN_SIM_WORKERS`` overrides), or 1 for a small job (``trips`` over all
    runs below :data:`MIN_PARALLEL_TRIPS`: forking and shipping results back would cost
    more than it saves); 1 inside a Dask worker (Dask already spreads tasks over
    processes), in a daemonic process (no children allowed) or without the ``fork`` start
    method. ``EVPLAN_SIM_WORKERS`` set to anything but a whole number >= 1 raises
    :class:`~networks.errors.ConfigError`."""
    if workers is not None:
        if not whole_number(workers, at_least=1):
            raise SimSettingsError(f"workers = {workers!r} must be an integer >= 1")
        n = int(workers)
    else:
        env = positive_int_env("EVPLAN_SIM_WORKERS", meaning=SIM_WORKERS_MEANING)
        n = env if env is not None else _cpus()
        if trips is not None and trips < MIN_PARALLEL_TRIPS:
            n = 1
    if mp.current_process().daemon or "fork" not in mp.get_all_start_methods() or in_dask_worker():
        n = 1
    return max(1, min(n, runs))


#: What ``EVPLAN_SIM_WORKERS`` sets, for the message when its value is wrong.
SIM_WORKERS_MEANING = "worker processes for replications; unset: one per CPU"


def check_workers_env() -> None:
    """Raise :class:`~networks.errors.ConfigError` when ``EVPLAN_SIM_WORKERS`` is set but
    not a whole number >= 1 (the command line calls it before any work)."""
    positive_int_env("EVPLAN_SIM_WORKERS", meaning=SIM_WORKERS_MEANING)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


#: The task of this worker process's pool, set by :func:`_init_worker` when the worker
#: starts (a forked worker inherits the task with everything it refers to: never
#: serialised). Only workers set it: the parent keeps no "current task" that two threads
#: starting pools at once could overwrite (a review found one thread's workers running the
#: other thread's task).
_TASK: Callable[[int], Any] | None = None


def _run_task(i: int) -> Any:
    assert _TASK is not None
    return _TASK(i)


def _init_worker(records: Any, task: Callable[[int], Any]) -> None:
    """Worker initialiser: the pool's task, and log records relayed to the parent; the
    worker ends with the parent even when that is killed (:mod:`networks._orphans`)."""
    global _TASK
    exit_with_parent()
    _TASK = task
    _log_to(records)


def forked_map(task: Callable[[int], T], n: int, workers: int) -> Generator[T, None, None]:
    """``task(0), ..., task(n - 1)``, in order: in this process when ``workers <= 1``,
    otherwise in a pool of ``workers`` forked processes (:func:`replication_workers`).

    The workers inherit ``task`` and what it refers to (network, route tables, trips)
    without a copy (it reaches them as the pool's initialiser argument, which the fork
    start method never pickles); only each result is sent back. A task may itself call
    ``forked_map``, and so may several threads at once.

    Parameters
    ----------
    task : callable
        ``task(i)`` for run ``i``; any callable (a closure or a ``functools.partial``).
    n : int
        Number of runs.
    workers : int
        Processes to use.

    Yields
    ------
    Each run's result, in run order.
    """
    if workers <= 1:
        yield from map(task, range(n))
        return
    ctx = mp.get_context("fork")
    # the workers' log records go to this process, which handles them as its own: its
    # handlers, levels and filters apply (a warning every run repeats can be shown once)
    records = ctx.Queue()
    relay = _LogRelay(records)
    pool = ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker, initargs=(records, task)
    )
    relay.start()
    try:
        try:
            yield from pool.map(_run_task, range(n))
        except (Exception, GeneratorExit):
            # an error, or the caller stopped reading: the runs not started are dropped,
            # the running ones awaited (no work left running behind the caller's back)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        except BaseException:
            # interrupted (Ctrl-C, the CLI's SIGTERM): not waiting for the running ones,
            # which may take minutes; the CLI stops its worker processes itself. A
            # worker killed while writing a record may hold the queue's lock: the relay
            # is given a moment, and the queue is not flushed at exit
            pool.shutdown(wait=False, cancel_futures=True)
            relay.stop(timeout=1.0)
            records.cancel_join_thread()
            raise
        pool.shutdown()
    finally:
        relay.stop()  # the records sent so far are handled before returning


def _log_to(records: Any) -> None:
    """Worker initialiser: the worker's log records go to ``records`` (a queue read by
    :class:`_LogRelay` in the parent) instead of the handlers it inherited."""
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    root.addHandler(logging.handlers.QueueHandler(records))


#: Attribute a relayed worker record carries: the ident of the thread that ran the pool
#: (a worker's own ``record.thread`` is meaningless in this process). Per-run log handlers
#: filter on it (:func:`run_thread`), so that a run in one thread neither misses its
#: workers' records nor collects another thread's.
RUN_THREAD_ATTR = "evplan_run_thread"


def run_thread(record: logging.LogRecord) -> int:
    """The thread a log record belongs to: the pool's caller for a relayed worker record,
    the emitting thread otherwise.

    A record made with ``logging.logThreads = False`` (an embedding application's choice)
    has no thread; handlers run in the thread that logs, so the thread asking is the one
    that made it."""
    owner = getattr(record, RUN_THREAD_ATTR, None)
    if owner is not None:
        return owner
    return record.thread if record.thread is not None else threading.get_ident()


class _LogRelay(logging.handlers.QueueListener):
    """Handles the workers' records in the parent through the logger that made each one
    (the parent's configuration decides, as for its own records; Python's logging
    cookbook, "logging to a single file from multiple processes"), tagged with the thread
    that started the pool (:data:`RUN_THREAD_ATTR`)."""

    def __init__(self, queue: Any) -> None:
        super().__init__(queue)
        self._owner = threading.get_ident()

    def stop(self, timeout: float | None = None) -> None:
        """Handle the records sent so far and end the relay's thread (waiting at most
        ``timeout`` seconds for it; stopping twice is harmless)."""
        thread = self._thread
        if thread is None:
            return
        self.enqueue_sentinel()
        thread.join(timeout)
        self._thread = None

    def handle(self, record: logging.LogRecord) -> None:
        """Pass ``record`` to its logger in this process."""
        setattr(record, RUN_THREAD_ATTR, self._owner)
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
