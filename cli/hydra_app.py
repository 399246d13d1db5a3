"""The Hydra side of ``syllabus train``: compose the config with Hydra's full grammar, then train.

``run_train`` hands the user's arguments to ``@hydra.main`` through ``sys.argv``, so ``-m``,
``--cfg job``, ``--config-dir``, ``hydra/launcher=joblib`` and every override work as in any
Hydra app. [`train_job`][syllabus.cli.hydra_app.train_job] runs once per job (in a launcher's worker for parallel sweeps).

Each job, in order: validates the config (no torch, no env package imported yet), locks the run
directory, claims it (a new run) or checks the resume, and only then imports the learner and trains.
Hydra writes a new run's config to a staging directory that becomes ``.hydra`` once the run has
claimed its directory, so a refused run never overwrites another run's config.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from syllabus.cli.errors import (
    FAILURE_EXIT,
    USAGE_EXIT,
    USER_ERRORS,
    RunFailure,
    describe_unwritable_output,
    disk_write_error,
    report,
)

CONFIG_DIR = Path(str(importlib.resources.files("syllabus.configs")))
PROG = "syllabus train"
INTERRUPTED_EXIT = 130
_ENV_OPTIONS = "SYLLABUS_TRAIN_OPTIONS"  # JSON handed to jobs, also those a launcher runs in other processes
_STOP_FILE = "stop"  # in the sweep's state directory: Ctrl-C was pressed, jobs not started yet do not train
_FAILED_FILE = "failed"  # one line per failed job
_STARTED_FILE = "started"  # a job started: a later exit 1 is not a Hydra usage error


def _options() -> dict[str, Any]:
    return json.loads(os.environ.get(_ENV_OPTIONS, "{}"))


def train_job(cfg: DictConfig) -> str:
    """One Hydra job: validate the composed config, take the run directory, then train in it."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from syllabus.cli.run_lock import RunDirLock
    from syllabus.cli.run_start import STAGED_PREFIX, check_resume_overrides, claim_new_run, prepare_resume
    from syllabus.cli.schema import validate

    options = _options()
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    subdir = hydra_cfg.output_subdir
    staged = run_dir / subdir if subdir and subdir.startswith(STAGED_PREFIX) else None
    resume = bool(options.get("resume"))
    state_dir = Path(options["state_dir"]) if options.get("state_dir") else None
    if state_dir is not None and not state_dir.is_dir():
        state_dir = None  # a job on another machine (e.g. SLURM): its driver's state is not here
    if state_dir is not None:
        if (state_dir / _STOP_FILE).exists():
            _remove_unstarted(run_dir, staged)  # Ctrl-C before this job started: it does not
            return "interrupted"
        (state_dir / _STARTED_FILE).touch()
    lock = RunDirLock(run_dir)
    try:
        lock.acquire()
        if resume:
            check_resume_overrides(run_dir, cfg)  # first: a changed group fails its new schema otherwise
        run = validate(cfg)  # every check, installed extras included; nothing starts
        checkpoint = None
        if resume:
            checkpoint = prepare_resume(run_dir, cfg, run)
        else:
            claim_new_run(run_dir, staged)
        from syllabus.cli.training import train  # torch and SB3 are imported only now

        status = train(
            run,
            run_dir,
            resume=resume,
            checkpoint=checkpoint,
            stop_requested=None if state_dir is None else (state_dir / _STOP_FILE).exists,
            command=options.get("command", " ".join(sys.argv)),
            quiet=bool(options.get("quiet")),
            multirun=hydra_cfg.mode == RunMode.MULTIRUN,
        )
    except USER_ERRORS as exc:
        report(PROG, str(exc), exc)
        # A new run that stopped before training leaves nothing; a refused resume or a directory locked
        # by another process is left as it was (only this job's staged config goes).
        _remove_unstarted(run_dir, staged if lock.held else None, whole=lock.held and not resume)
        raise SystemExit(USAGE_EXIT) from None
    except RunFailure as exc:
        report(PROG, f"{run_dir}: run failed: {exc}", exc)
        if hydra_cfg.mode != RunMode.MULTIRUN:
            raise SystemExit(FAILURE_EXIT) from None
        if state_dir is not None:
            with open(state_dir / _FAILED_FILE, "a") as f:
                f.write(f"{run_dir}\n")
        return "failed"
    finally:
        lock.release()
    if status == "interrupted" and os.getpid() == options.get("pid"):
        raise SystemExit(INTERRUPTED_EXIT)  # also ends a sweep run by the basic launcher in this process
    return status


def _remove_unstarted(run_dir: Path, staged: Path | None, *, whole: bool = False) -> None:
    """Removes what a job that did not start wrote: its staged config and, with ``whole``, the run
    directory when it holds nothing else (Hydra's ``train.log``, the lock file)."""
    if staged is not None:
        shutil.rmtree(staged, ignore_errors=True)
    if whole and run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {"train.log", ".lock", ".hydra"}:
        shutil.rmtree(run_dir, ignore_errors=True)
        _remove_empty_parents(run_dir)


def _remove_empty_parents(run_dir: Path) -> None:
    """Removes the directories Hydra made above ``run_dir`` (e.g. ``outputs/DATE``) while they are empty,
    up to the working directory; ``rmdir`` leaves one that holds anything (another run's directory)."""
    cwd = Path.cwd().resolve()
    parent = run_dir.resolve().parent
    while parent != cwd and cwd in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


@contextmanager
def _sweep_interrupts(state_dir: Path) -> Iterator[None]:
    """In a sweep, the first Ctrl-C or SIGTERM marks the sweep stopped and lets running jobs save their
    checkpoint.

    Jobs in a launcher's worker processes get the terminal's Ctrl-C (or a scheduler's SIGTERM to the
    process group) themselves; jobs not started yet see the mark and do not start. A second Ctrl-C
    interrupts at once; a second SIGTERM does not (the scheduler's SIGKILL follows its grace period).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        stop = state_dir / _STOP_FILE
        if stop.exists() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.touch()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_train(args: list[str], *, command: str, resume: bool = False, quiet: bool = False) -> None:
    """Runs ``@hydra.main`` over ``args`` (Hydra's command-line grammar).

    Exits with 2 for a usage error (also Hydra's own, such as an unknown config option), 1 when a run
    failed (also any job of a sweep), 130 when interrupted.
    """
    import hydra

    args = overrides_first(args)
    state_dir = Path(tempfile.mkdtemp(prefix="syllabus-train-"))
    os.environ[_ENV_OPTIONS] = json.dumps(
        {
            "command": command,
            "resume": resume,
            "quiet": quiet,
            "pid": os.getpid(),
            "state_dir": str(state_dir),
        }
    )
    if not resume and not any(a.startswith(("hydra.output_subdir=", "++hydra.output_subdir=")) for a in args):
        args = [f"hydra.output_subdir={_staged_name()}", *args]
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises its errors: reported below as one line
    expose_launcher_plugins()
    if not resume and {"-m", "--multirun"} & set(args):
        try:
            check_sweep(args)
        except USER_ERRORS as exc:
            report(PROG, str(exc), exc)
            shutil.rmtree(state_dir, ignore_errors=True)
            raise SystemExit(USAGE_EXIT) from None
    main = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")(train_job)
    saved_argv = sys.argv
    sys.argv = [PROG, *args]  # Hydra's usage and errors name the command
    try:
        with _sweep_interrupts(state_dir):
            try:
                main()
            except KeyboardInterrupt:
                report(PROG, "interrupted twice: stopped without saving a checkpoint")
                raise SystemExit(INTERRUPTED_EXIT) from None
            except Exception as exc:
                if (state_dir / _STARTED_FILE).exists():
                    raise  # not a usage error: a bug, shown in full
                disk = disk_write_error(exc)  # Hydra could not create the run's directory
                if disk is not None:
                    message = describe_unwritable_output(disk, resume=resume)
                else:
                    message = condense_hydra_error(exc)  # Hydra refused the command line or config
                    if resume:
                        message = _resume_group_change(args, message)
                    else:
                        message = _unknown_override_key(args, exc) or message
                report(PROG, message, exc)
                raise SystemExit(USAGE_EXIT) from None
        if (state_dir / _STOP_FILE).exists():
            raise SystemExit(INTERRUPTED_EXIT)
        failed = (state_dir / _FAILED_FILE).read_text().split() if (state_dir / _FAILED_FILE).exists() else []
        if failed:
            report(PROG, f"{len(failed)} job(s) of the sweep failed: {', '.join(failed)}")
            raise SystemExit(FAILURE_EXIT)
    finally:
        sys.argv = saved_argv
        shutil.rmtree(state_dir, ignore_errors=True)


def expose_launcher_plugins() -> None:
    """Lets Hydra's plugin scan find ``hydra/launcher=ray`` (``hydra_plugins.syllabus_launchers``).

    An installed wheel puts it in the ``hydra_plugins`` namespace folder already; an editable install maps
    it with an import hook that ``pkgutil`` (Hydra's scan) cannot list, so its folder is added to the
    namespace's path.
    """
    import pkgutil

    import hydra_plugins
    import hydra_plugins.syllabus_launchers as ours

    if not any(m.name == "syllabus_launchers" for m in pkgutil.iter_modules(hydra_plugins.__path__)):
        hydra_plugins.__path__.append(str(Path(ours.__file__).parent.parent))


def check_sweep(args: list[str]) -> None:
    """Validates every job of a basic sweep (``-m a=1,2 b=x,y``) before the first one starts.

    Checks what each job's [`validate`][syllabus.cli.schema.validate] would check, in Hydra's job order.
    A command line Hydra itself refuses is left for Hydra to report; sweeps over the user's own
    config directory (``--config-dir``) or another sweeper are checked job by job as they start.

    Raises:
        ConfigError: Naming the first bad job (its number, as in the sweep's directories), its
            overrides and the bad value.
    """
    from hydra import compose, initialize_config_dir
    from syllabus.cli.errors import ConfigError, MissingDependencyError
    from syllabus.cli.schema import validate

    if set(args) & _VALUE_OPTIONS:
        return
    overrides = [a for a in args if not a.startswith("-")]
    if any(o.lstrip("+~").startswith("hydra/sweeper") for o in overrides):
        return
    jobs = _basic_sweep_jobs(overrides)
    if jobs is None:
        return
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        for number, job in enumerate(jobs):
            own = [o for o in job if not o.lstrip("+~").startswith("hydra")]
            try:
                cfg = compose("train", overrides=own)
            except Exception:  # noqa: BLE001 - e.g. an unknown option: Hydra reports it for the whole sweep
                return
            try:
                validate(cfg)
            except (ConfigError, MissingDependencyError) as exc:
                raise ConfigError(
                    f"job {number} of the sweep ({' '.join(own)}): {exc}; no job was started"
                ) from None


def _basic_sweep_jobs(overrides: list[str]) -> list[list[str]] | None:
    """The overrides of each job of a basic sweep over ``overrides``, in Hydra's order (one job when
    nothing is swept), or ``None`` for a command line Hydra refuses (it reports that itself)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
        return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    except Exception:  # noqa: BLE001 - any refusal, in Hydra's words
        return None


def _resume_group_change(args: list[str], message: str) -> str:
    """Hydra's refusal of a config group override on a resumed run (whose saved config has no defaults
    list) as what it is: ``--resume`` cannot change that group."""
    for arg in args:
        group, _, choice = arg.lstrip("+~").partition("=")
        if (choice or arg.startswith("~")) and group.isidentifier() and f"'{group}'" in message:
            return f"--resume cannot change the {group} (given: {arg}); start a new run for another {group}"
    return message


def _unknown_override_key(args: list[str], exc: BaseException) -> str | None:
    """Hydra's refusal to override a key the config does not have (``curriculum.tempreature=1``) as the
    schema's line with the valid keys, or ``None`` for any other error.

    Hydra's own advice, ``+KEY=VALUE``, is only right for a free-form mapping such as
    ``learner.policy_kwargs``; its keys are left to Hydra's message. The group's option (``plr``) is the
    one chosen by the first job whose option lacks the key, composed without the bad override.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError
    from syllabus.cli.schema import group_schemas, unknown_key

    cause = exc.__cause__
    if not isinstance(cause, (ConfigAttributeError, ConfigKeyError)) or not str(exc).startswith("Could not"):
        return None
    key = str(cause.full_key)
    group, _, leaf = key.partition(".")
    if not leaf:
        return str(unknown_key(key))
    if "." in leaf or group not in group_schemas() or set(args) & _VALUE_OPTIONS:
        return None

    def refused(arg: str) -> bool:
        """Whether ``arg`` overrides the key or one below it (``env.foo.bar=1``)."""
        name = arg.split("=")[0].lstrip("+~")
        return name == key or name.startswith(f"{key}.")

    jobs = _basic_sweep_jobs([a for a in args if not a.startswith("-") and not refused(a)])
    GlobalHydra.instance().clear()  # the failed run's
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            for job in jobs or []:
                option = compose("train", overrides=job)[group].get("name")
                schema = group_schemas()[group].get(option)
                if schema is not None and leaf not in {f.name for f in dataclasses.fields(schema)}:
                    return str(unknown_key(key, option))
    except Exception:  # noqa: BLE001 - another mistake on the command line: Hydra's message stands
        return None
    return None


def condense_hydra_error(exc: BaseException) -> str:
    """Hydra's multi-line error as one line: its lines joined, a list of options comma-separated, the
    config search path left out."""
    text = str(exc).split("Config search path:")[0]
    parts: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if parts and line.startswith(("full_key:", "object_type=", "reference_type=")):
            continue  # OmegaConf's details of a key that the message already names
        if parts and parts[-1].endswith(":") and " " not in line:
            parts[-1] += f" {line}"  # the first option listed
        elif parts and " " not in line and parts[-1].count(":") and parts[-1].split(":")[-1].strip():
            parts[-1] += f", {line}"  # further options
        else:
            parts.append(line.rstrip("."))
    cause = exc.__cause__
    if cause is not None and str(cause).strip():
        parts.append(str(cause).strip().splitlines()[0].rstrip("."))  # e.g. which key is unknown
    return "; ".join(parts) or type(exc).__name__


_VALUE_OPTIONS = {
    "-cd",
    "--config-dir",
    "-cn",
    "--config-name",
    "-cp",
    "--config-path",
    "-c",
    "--cfg",
    "-p",
    "--package",
}


_INFO_CHOICES = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


def overrides_first(args: list[str]) -> list[str]:
    """``args`` with the overrides first, in their order, then Hydra's flags with their values.

    Hydra's parser takes overrides in one run: ``env=procgen -m seed=0,1`` would be refused
    ("unrecognized arguments"). After the overrides, a flag with an optional value (``--info``) cannot
    take an override as its value either.
    """
    overrides: list[str] = []
    flags: list[str] = []
    i = 0
    while i < len(args):
        takes_value = args[i] in _VALUE_OPTIONS or (
            args[i] in ("-i", "--info") and i + 1 < len(args) and args[i + 1] in _INFO_CHOICES
        )
        if takes_value:
            flags += args[i : i + 2]
            i += 2
            continue
        (flags if args[i].startswith("-") else overrides).append(args[i])
        i += 1
    return [*overrides, *flags]


def _staged_name() -> str:
    from syllabus.cli.run_start import STAGED_PREFIX

    return f"{STAGED_PREFIX}{os.getpid()}"
