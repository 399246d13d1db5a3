"""``hydra/launcher=ray``: each job of a sweep is a Ray task on the cluster that ``sync.address`` names.

Hydra finds this launcher in its ``hydra_plugins`` namespace package (the wheel installs it as
``hydra_plugins.syllabus_launchers``); its config is ``configs/hydra/launcher/ray.yaml``. Ray places the
jobs (``num_cpus`` each) on the cluster's nodes; a job with ``sync=ray`` uses the Ray its worker is
connected to. ``address: null`` starts a private local Ray for the sweep (stopped at its end).

The driver keeps the sweep's summary: jobs that fail (a failed run, an exception, a lost worker) are
named at the end while the others finish. The first Ctrl-C cancels jobs not started yet and interrupts
the running ones (which save a checkpoint, as on Ctrl-C in a terminal); a second one force-stops them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)
_OPTIONS_ENV = "SYLLABUS_TRAIN_OPTIONS"  # what `syllabus train` hands its jobs (cli/hydra_app.py)
_WAKE_SECONDS = 1.0  # the driver waits on its jobs in steps this long, to see a Ctrl-C mark between them


def _execute_job(
    idx: int,
    overrides: Sequence[str],
    hydra_context: HydraContext,
    config: DictConfig,
    task_function: TaskFunction,
    singleton_state: dict[Any, Any],
    options: str | None,
) -> tuple[JobReturn, str]:
    """Runs one job in a Ray worker; returns its result and the node it ran on."""
    import ray

    setup_globals()
    Singleton.set_state(singleton_state)
    if options is not None:
        os.environ[_OPTIONS_ENV] = options
    from hydra.core.hydra_config import HydraConfig

    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    result = run_job(
        hydra_context=hydra_context,
        config=sweep_config,
        task_function=task_function,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    return result, ray.get_runtime_context().get_node_id()


class RayLauncher(Launcher):
    """Runs each job of a Hydra sweep as a Ray task.

    Args:
        address: The cluster to use (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``); ``None`` starts a
            private local Ray for the sweep.
        num_cpus: CPUs each job reserves: Ray runs as many jobs at once as the cluster has room for.
        num_gpus: GPUs each job reserves.
        stop_timeout: Seconds the jobs get to save a checkpoint after the first Ctrl-C.
    """

    def __init__(
        self, address: str | None = None, num_cpus: float = 1, num_gpus: float = 0, stop_timeout: float = 120
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.stop_timeout = stop_timeout
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.task_function = task_function
        self.hydra_context = hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import ray

        setup_globals()
        assert self.config is not None and self.task_function is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        options = json.loads(os.environ.get(_OPTIONS_ENV, "{}"))
        state_dir = Path(options["state_dir"]) if options.get("state_dir") else None
        # The driver keeps the sweep's state; jobs (maybe on other machines) do not write it.
        job_options = json.dumps({**options, "state_dir": None, "pid": None}) if options else None
        stop = _connect(self.address)
        try:
            log.info(
                f"Ray launcher: {len(job_overrides)} jobs on {_describe_cluster()}; sweep dir {sweep_dir}"
            )
            remote = ray.remote(_execute_job).options(
                num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0
            )
            singleton_state = Singleton.get_state()
            refs = []
            for i, overrides in enumerate(job_overrides):
                idx = initial_job_idx + i
                log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
                refs.append(
                    remote.remote(
                        idx,
                        overrides,
                        self.hydra_context,
                        self.config,
                        self.task_function,
                        singleton_state,
                        job_options,
                    )
                )
            if state_dir is not None:
                (state_dir / "started").touch()
            results = self._collect(refs, job_overrides, initial_job_idx, state_dir)
        finally:
            stop()
        return results

    def _collect(
        self, refs: list[Any], job_overrides: Sequence[Sequence[str]], first: int, state_dir: Path | None
    ) -> list[JobReturn]:
        """Waits for every job; records the failed ones; on a Ctrl-C mark, stops the jobs."""
        import ray

        results: dict[int, JobReturn] = {}
        pending = {ref: i for i, ref in enumerate(refs)}
        stopping = False
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=_WAKE_SECONDS)
                for ref in done:
                    i = pending.pop(ref)
                    results[i] = self._result(ref, job_overrides[i], first + i, state_dir)
                if not stopping and state_dir is not None and (state_dir / "stop").exists():
                    stopping = True
                    log.info("Ctrl-C: stopping the sweep's jobs (running ones save a checkpoint)")
                    for ref in pending:
                        ray.cancel(ref, force=False)  # a running job gets Ctrl-C, a waiting one never starts
                    ray.wait(list(pending), num_returns=len(pending), timeout=self.stop_timeout)
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        return [results[i] for i in range(len(refs)) if i in results]

    def _result(self, ref: Any, overrides: Sequence[str], idx: int, state_dir: Path | None) -> JobReturn:
        """The job's JobReturn; a job that failed is logged and written to the sweep's list of failures."""
        import ray

        try:
            result, node = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            ret = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)
            ret.return_value = "interrupted"
            return ret
        except Exception as exc:  # the job raised, or its worker or node died
            message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            log.error(f"job #{idx} ({' '.join(overrides)}) failed: {message}")
            _record_failure(state_dir, f"job#{idx}({' '.join(filter_overrides(overrides))})")
            ret = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)
            ret.return_value = "failed"
            return ret
        log.info(f"job #{idx} ran on node {node[:12]}")
        if result.status == JobStatus.FAILED:
            log.error(f"job #{idx} ({' '.join(overrides)}) failed: {result._return_value!r}")
            _record_failure(state_dir, _run_dir(result, idx))
            result.status, result.return_value = JobStatus.COMPLETED, "failed"
        elif result.return_value == "failed":
            _record_failure(state_dir, _run_dir(result, idx))
        return result


def _run_dir(result: JobReturn, idx: int) -> str:
    """The job's output directory (its run directory), as the job saw it."""
    try:
        return str(result.hydra_cfg.hydra.runtime.output_dir)  # type: ignore[union-attr]
    except AttributeError:
        return f"job#{idx}"


def _record_failure(state_dir: Path | None, what: str) -> None:
    if state_dir is not None:
        with open(state_dir / "failed", "a") as f:
            f.write(f"{what}\n")


def _connect(address: str | None) -> Any:
    """Connects to the cluster at ``address`` (or starts a private local Ray); returns what disconnects."""
    import ray

    if ray.is_initialized():
        return lambda: None
    from syllabus.cli.ray_cluster import connect_ray
    from syllabus.cli.syncs.ray import RaySyncConfig

    stop = connect_ray(RaySyncConfig(address=address))
    return stop or (lambda: None)


def _describe_cluster() -> str:
    import ray

    nodes = [node for node in ray.nodes() if node.get("Alive")]
    cpus = sum(node.get("Resources", {}).get("CPU", 0) for node in nodes)
    return f"a Ray cluster of {len(nodes)} node(s), {cpus:g} CPUs"
