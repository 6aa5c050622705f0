"""The Dask back end of `runner.run` (``--engine dask``): the same work as the process pool, one task a
file, on a Dask distributed cluster (a LocalCluster of local processes when no scheduler is given).
Dask itself is an extra (``pip install 'deidlang[dask]'``), imported only when a run asks for it.

Security. Anyone who can reach a Dask scheduler can run code in its workers, so the local cluster
deidlang starts listens on 127.0.0.1 only, with Dask's TLS and a certificate made for this run alone
(a client without it cannot connect), and without a dashboard. An external ``--scheduler`` must be a
``tls://`` address, its certificates set in Dask's configuration. The key is never part of a task
(tasks are pickled, and kept by the scheduler): the local workers receive it through their
environment when they start, external workers read the site key from their own ``DEIDLANG_KEY``;
each task carries only the key's fingerprint, which a worker checks against its own key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from .engine import Key
from .errors import InputError
from .plan import Plan
from .runner.onefile import FileResult, process
from .runner.outputs import Target, placer
from .runner.reasons import quiet_pydicom
from .runner.sitekey import KEY_ENV, load_key
from .store import PseudonymMap

#: How the local cluster's workers receive the run's key (hex), set in their environment at start.
WORKER_KEY_ENV = "DEIDLANG_DASK_WORKER_KEY"


def local_cluster(workers: int, key: Key):
    """A LocalCluster on 127.0.0.1 over TLS with a temporary certificate, no dashboard, whose workers
    hold ``key`` in their environment; and the `Security` a client needs to reach it."""
    from distributed import LocalCluster
    from distributed.security import Security

    security = Security.temporary()
    cluster = LocalCluster(n_workers=max(workers, 1), threads_per_worker=1, processes=True, host="127.0.0.1",
                           protocol="tls://", security=security,
                           # no dashboard; the scheduler's own small HTTP server (health) on loopback only
                           dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
                           env={WORKER_KEY_ENV: key.secret.hex()})
    return cluster, security


def run_dask(plan: Plan, key: Key, map_path, workers: int, scheduler: str | None, target: Target,
             jobs: Iterator[tuple[Path, tuple[str, ...]]], done: Callable[[FileResult, object], None],
             verify_pixels: bool = False) -> None:
    """The same work on a Dask distributed cluster: each task de-identifies one file, paths as the
    workers see them (a shared filesystem). At most a bounded window of tasks is in flight."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise InputError("--engine dask needs Dask: pip install 'deidlang[dask]'") from None
    cluster = security = None
    if scheduler is None:
        cluster, security = local_cluster(workers, key)
    elif not scheduler.startswith("tls://"):
        raise InputError(f"the Dask scheduler `{scheduler}` is not a tls:// address", None,
                         "anyone who reaches an unsecured scheduler can run code in its workers: secure it with "
                         "TLS (docs/operations.md)")
    elif not key.persistent:
        raise InputError("an external Dask cluster needs a site key", None,
                         f"its workers read the key from their own {KEY_ENV}; a one-run key cannot reach them")
    try:
        with Client(cluster if cluster is not None else scheduler, security=security) as client:
            plan_data = client.scatter(plan.to_dict(), broadcast=True)
            window = as_completed()
            pending: dict = {}
            for source, relative in jobs:
                fut = client.submit(work, str(source), relative, target, plan.plan_hash, plan_data, key.fingerprint(),
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


def work(source: str, relative, target: Target, plan_hash: str, plan_data: dict, fingerprint: str,
         map_path, verify_pixels: bool = False) -> FileResult:
    """One file on a Dask worker; the plan is rebuilt once per worker process (by its hash) and kept."""
    plan = _PLANS.get(plan_hash)
    if plan is None:
        quiet_pydicom()
        plan = _PLANS[plan_hash] = Plan.from_dict(plan_data)
    key = _worker_key()
    if key is None or key.fingerprint() != fingerprint:
        return FileResult(source, "failed", reason="this Dask worker does not hold the run's key (set "
                                                   f"{KEY_ENV} on every worker to the site key)")
    store = PseudonymMap(map_path, key) if map_path is not None else None
    try:
        return process(Path(source), placer(target, relative), plan, key, store, verify_pixels=verify_pixels)
    finally:
        if store is not None:
            store.close()


def _worker_key() -> Key | None:
    """This worker's key: given by the local cluster at start, else the site key of its environment."""
    given = os.environ.get(WORKER_KEY_ENV)
    if given:
        return Key(bytes.fromhex(given))
    try:
        return load_key(None, os.environ) if KEY_ENV in os.environ else None
    except InputError:
        return None


_PLANS: dict[str, Plan] = {}
