"""The Dask back end of `runner.run` (``--engine dask``): the same work as the process pool, one task a
file, on a Dask distributed cluster (a LocalCluster of local processes when no scheduler is given).
Dask itself is an extra (``pip install 'deidlang[dask]'``), imported only when a run asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from .engine import Key
from .errors import InputError
from .plan import Plan
from .runner import FileResult, Target, _placer, process, quiet_pydicom
from .store import PseudonymMap


def run_dask(plan: Plan, key: Key, map_path, workers: int, scheduler: str | None, target: Target,
             jobs: Iterator[tuple[Path, tuple[str, ...]]], done: Callable[[FileResult, object], None],
             verify_pixels: bool = False) -> None:
    """The same work on a Dask distributed cluster: each task de-identifies one file, paths as the
    workers see them (a shared filesystem). At most a bounded window of tasks is in flight."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InputError("--engine dask needs Dask: pip install 'deidlang[dask]'") from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=max(workers, 1), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
    try:
        with Client(scheduler or cluster) as client:
            plan_data = client.scatter(plan.to_dict(), broadcast=True)
            window = as_completed()
            pending: dict = {}
            for source, relative in jobs:
                fut = client.submit(work, str(source), relative, target, plan.plan_hash, plan_data, key,
                                    map_path, verify_pixels, pure=False)
                pending[fut.key] = relative
                window.add(fut)
                if window.count() >= max(workers, 1) * 8:
                    fut = next(window)
                    done(fut.result(), pending.pop(fut.key))
            for fut in window:
                done(fut.result(), pending.pop(fut.key))
    finally:
        if cluster is not None:
            cluster.close()


def work(source: str, relative, target: Target, plan_hash: str, plan_data: dict, key: Key,
         map_path, verify_pixels: bool = False) -> FileResult:
    """One file on a Dask worker; the plan is rebuilt once per worker process (by its hash) and kept."""
    plan = _PLANS.get(plan_hash)
    if plan is None:
        quiet_pydicom()
        plan = _PLANS[plan_hash] = Plan.from_dict(plan_data)
    store = PseudonymMap(map_path, key) if map_path is not None else None
    try:
        return process(Path(source), _placer(target, relative), plan, key, store, verify_pixels=verify_pixels)
    finally:
        if store is not None:
            store.close()


_PLANS: dict[str, Plan] = {}
