"""The Dask side of a batch: a local cluster of single-threaded worker processes
(:func:`local_cluster`), or a client connected to an existing scheduler with a hard
deadline and a clear error for a wrong or silent address (:func:`connect_scheduler`), and
the count of runs executing now for the progress display (:func:`running_runs`).
:mod:`planner.batch.execute` submits the runs through these.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from planner.batch.plan import BatchError, SchedulerError


def local_cluster(workers: int, *, retries: int = 1) -> Any:
    """A ``distributed.LocalCluster`` for batches: ``workers`` single-threaded processes.

    Each worker takes one run at a time (worker-saturation 1.0), and a run whose worker process
    dies is rescheduled ``retries`` times before it is reported as failed (``KilledWorker``).
    """
    import dask
    from distributed import LocalCluster

    # Worker statistical profiler off: a sampling thread per worker costs CPU on pure-Python runs
    # and nobody reads a batch's profiles (the dashboard is on a free port if wanted).
    with dask.config.set(
        {
            "distributed.scheduler.worker-saturation": 1.0,
            "distributed.worker.profile.enabled": False,
        }
    ):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            scheduler_kwargs={"allowed_failures": retries},
        )


def _check_address(given: str, address: str) -> None:
    """Refuse a scheduler address Dask cannot parse before building a client: a client that
    fails on it is left half-built, and its finaliser hangs the exit for 20 s and prints a
    traceback."""
    from distributed.comm import get_address_host_port

    try:
        get_address_host_port(address)
    except ValueError as exc:
        raise SchedulerError(
            f"--scheduler {given!r} is not a Dask scheduler address ({exc}); give host:port, "
            "e.g. --scheduler tcp://10.0.0.5:8786"
        ) from None


def _discard(client: Any) -> None:
    """Close a client whose constructor raised, at once and quietly.

    Left alone, its finaliser closes it later (garbage collection, the interpreter's exit)
    with a wait of twice the connect timeout, then prints "Exception ignored in
    Client.__del__ ... TimeoutError": the error exit took 23 s instead of the timeout.
    Closing it here, while its event loop still runs, is quick; whatever is left of it is
    marked closed so that its finaliser does nothing."""
    with contextlib.suppress(Exception):
        client.close(timeout=_DISCARD_S)
    with contextlib.suppress(Exception):
        client.status = "closed"


#: Seconds a half-built client may take to close (within the 5 s grace of the connect).
_DISCARD_S = 2.0


def _client_within(client_cls: Any, address: str, timeout: float) -> Any:
    """Connect in a daemon thread with a hard deadline: a peer that accepts TCP but never
    answers the Dask handshake (an HTTP server, say) would otherwise hang the connect, and
    one that answers garbage raises arbitrary errors inside distributed. A client that
    fails to start is closed before the error is raised (:func:`_discard`)."""

    box: dict[str, Any] = {}

    class _Kept(client_cls):  # type: ignore[misc, valid-type]  # a Client class given at run time
        """The client class, keeping the instance being built: a constructor that raises
        returns none, and the half-built one must still be closed (:func:`_discard`)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            box["building"] = self
            super().__init__(*args, **kwargs)

    def connect() -> None:
        try:
            box["client"] = _Kept(address, timeout=timeout, set_as_default=False)
        except BaseException as exc:  # noqa: BLE001 - reported below as one clear error
            box["error"] = exc
            if "building" in box:
                _discard(box["building"])
        finally:
            box.pop("building", None)

    t = threading.Thread(target=connect, name="evplan-dask-connect", daemon=True)
    t.start()
    t.join(timeout + 5.0)
    hint = (
        "check the address and that a Dask scheduler (not another service) listens there, or omit "
        "--scheduler to start a local cluster"
    )
    if t.is_alive():
        raise SchedulerError(
            f"no Dask scheduler answered at {address} within {timeout + 5.0:g} s; {hint}"
        )
    if "error" in box:
        exc = box["error"]
        raise SchedulerError(
            f"cannot connect to a Dask scheduler at {address} within {timeout:g} s "
            f"({type(exc).__name__}: {str(exc)[:200]}); {hint}"
        )
    return box["client"]


@contextlib.contextmanager
def connect_scheduler(
    *, workers: int, scheduler: str | None, client: Any, retries: int, timeout: float
) -> Iterator[Any]:
    """A Dask client: the one given, one connected to ``scheduler``, or a new local cluster."""
    if client is not None:
        yield client
        return
    try:
        from distributed import Client
    except ImportError:
        raise BatchError(
            "parallel batches need Dask: pip install 'evplan[dist]' "
            "(or run in this process with --workers 0)"
        ) from None
    if scheduler:
        address = scheduler if "://" in scheduler else f"tcp://{scheduler}"
        _check_address(scheduler, address)
        c = _client_within(Client, address, timeout)
        try:
            c.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError):
            c.close()
            raise SchedulerError(
                f"the Dask scheduler at {address} has no workers after {timeout:g} s; "
                f"start some with 'dask worker {address}'"
            ) from None
        try:
            yield c
        finally:
            c.close()
        return
    cluster = local_cluster(workers, retries=retries)
    c = Client(cluster, set_as_default=False)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def running_runs(client: Any, keys: set[str]) -> int:
    """Runs executing now: our tasks on each worker, at most its thread count."""
    try:
        processing, nthreads = client.processing(), client.nthreads()
    except Exception:  # noqa: BLE001 - progress only; never fail the batch for it
        return 0
    return sum(
        min(len(keys.intersection(map(str, ks))), nthreads.get(w, 1))
        for w, ks in processing.items()
    )
