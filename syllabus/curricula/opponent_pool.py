"""The opponent pool of self-play: policy snapshots the learner adds and environments load by id.

Where snapshots live is a *store*, chosen for where the environments run:

- [`DirectoryStore`][syllabus.curricula.DirectoryStore]: one file per snapshot in a directory.
  Works for every environment process on the machine (multiprocessing, SB3 ``SubprocVecEnv``,
  gymnasium ``AsyncVectorEnv``, under fork, forkserver and spawn, since a pickled pool carries
  only the path), and across Ray nodes that share a filesystem. The default (a private temporary
  directory, removed when the pool that made it is closed or its process exits).
- [`RayStore`][syllabus.curricula.RayStore]: snapshots held by one named Ray actor; environments
  on any node of the Ray cluster fetch them from it. For clusters without a shared filesystem.

Why a store beside the curriculum and not the sync channel: snapshots are large (a policy's
weights) and change rarely, while tasks are small and sent at every episode end. Shipping weights
with tasks would cost every reset a copy; with a store, an environment reads a snapshot once,
then finds it in its own cache (``cache_size`` snapshots, least recently used dropped first).
The curriculum sends only the snapshot's id, an int, through the existing sync channel.

Ids are consecutive ints from 0, never reused, so an id names one snapshot for the pool's whole
life, in every process: caches never hold a stale snapshot. A snapshot is pickled when it is
added, so the pool keeps the weights of that moment even if the learner's tensors change after.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any, Protocol

from syllabus.core.checks import check_count, check_seconds
from syllabus.core.errors import CurriculumError

_PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL


class SnapshotStore(Protocol):
    """Where an [`OpponentPool`][syllabus.curricula.OpponentPool] keeps pickled snapshots.

    A store must be picklable and usable from every process that loads snapshots; writes come only
    from the pool's owner (the curriculum).
    """

    def put(self, agent_id: int, data: bytes) -> None:
        """Stores the pickled snapshot ``data`` under ``agent_id`` (replacing any)."""

    def get(self, agent_id: int) -> bytes | None:
        """The pickled snapshot of ``agent_id``, or ``None`` if the store has none."""

    def delete(self, agent_id: int) -> None:
        """Removes the snapshot of ``agent_id``, if any."""

    def ids(self) -> list[int]:
        """The ids of every stored snapshot, in no particular order."""

    def close(self) -> None:
        """Releases what this handle created (a temporary directory, an actor); idempotent."""


class _RemoveTemporary:
    """Removes a temporary directory once, at the first call or at the exit of the process that made it.

    Forked children inherit the exit hook; the process id check keeps them from removing it.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.pid = os.getpid()
        atexit.register(self)

    def __call__(self) -> None:
        atexit.unregister(self)
        if os.getpid() == self.pid:
            shutil.rmtree(self.directory, ignore_errors=True)


class DirectoryStore:
    """Snapshots as files ``<id>.pkl`` in a directory, written atomically (readers never see half a file).

    Args:
        directory: The directory (created if missing). ``None`` makes a private temporary directory,
            removed when this store is closed or when the process that made it exits. Not when the
            store is garbage-collected: a copy may still use it (e.g. in the curriculum's Ray actor,
            while the learner dropped its own). Copies sent to other processes never remove it.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self._cleanup: _RemoveTemporary | None = None
        if directory is None:
            directory = tempfile.mkdtemp(prefix="syllabus-opponents-")
            self._cleanup = _RemoveTemporary(directory)
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, agent_id: int) -> Path:
        return self.directory / f"{agent_id}.pkl"

    def put(self, agent_id: int, data: bytes) -> None:
        """Writes the snapshot to a temporary file, then renames it into place."""
        fd, tmp = tempfile.mkstemp(prefix=f".{agent_id}.", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(tmp, self._path(agent_id))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def get(self, agent_id: int) -> bytes | None:
        """Reads the snapshot file, ``None`` if there is none."""
        try:
            return self._path(agent_id).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, agent_id: int) -> None:
        """Removes the snapshot file, if any."""
        with contextlib.suppress(FileNotFoundError):
            self._path(agent_id).unlink()

    def ids(self) -> list[int]:
        """The ids of the snapshot files (``<id>.pkl``) in the directory."""
        return [int(path.stem) for path in self.directory.glob("*.pkl") if path.stem.isdigit()]

    def close(self) -> None:
        """Removes the directory if this store created it as a temporary one."""
        if self._cleanup is not None:
            self._cleanup()

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": self.directory}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._cleanup = None
        self.directory = state["directory"]

    def __repr__(self) -> str:
        return f"DirectoryStore({str(self.directory)!r})"


class _SnapshotHolder:
    """The Ray actor of a [`RayStore`][syllabus.curricula.RayStore]: a dict of pickled snapshots."""

    def __init__(self) -> None:
        self.snapshots: dict[int, bytes] = {}

    def put(self, agent_id: int, data: bytes) -> None:
        self.snapshots[agent_id] = data

    def get(self, agent_id: int) -> bytes | None:
        return self.snapshots.get(agent_id)

    def delete(self, agent_id: int) -> None:
        self.snapshots.pop(agent_id, None)

    def ids(self) -> list[int]:
        return list(self.snapshots)


class RayStore:
    """Snapshots held by a named Ray actor, readable from every node of the Ray cluster.

    The actor is started by the first write, in the process that writes (the curriculum: the
    learner process, or the curriculum's own actor with ``make_ray_curriculum``), and shares that
    process's lifetime; [`close`][syllabus.curricula.RayStore.close] on the writing handle kills it.
    Readers find it by name. Needs a connected Ray (``ray.init``) in each process that uses it.

    Args:
        name: The actor's name. ``None`` (the default) picks a unique one, which copies of the store
            sent to environments carry along; give a name only to find the store from elsewhere, and
            never the same one to two running curricula (they would share snapshots).
        namespace: The actor's Ray namespace; ``None`` is the current job's.
        timeout: Seconds a read or write may wait for the actor before raising.
    """

    def __init__(
        self, name: str | None = None, *, namespace: str | None = None, timeout: float = 60.0
    ) -> None:
        if name is None:
            name = f"syllabus-opponents-{uuid.uuid4().hex[:12]}"
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be None or a non-empty string, got {name!r}")
        self.name = name
        self.namespace = namespace
        self.timeout = check_seconds("timeout", timeout)
        self._actor: Any = None
        self._owner = False

    def _handle(self, create: bool) -> Any:
        if self._actor is None:
            import ray  # optional dependency: imported only by Ray users

            if create:
                actor_class: Any = ray.remote(_SnapshotHolder)
                self._actor = actor_class.options(
                    name=self.name,
                    namespace=self.namespace,
                    get_if_exists=True,
                    num_cpus=0,
                    max_concurrency=4,
                ).remote()
                self._owner = True
            else:
                try:
                    self._actor = ray.get_actor(self.name, namespace=self.namespace)
                except ValueError:
                    raise CurriculumError(
                        f"no opponent store actor named {self.name!r} in Ray: add a snapshot "
                        "(curriculum.add_agent) before environments load opponents"
                    ) from None
        return self._actor

    def _get(self, ref: Any) -> Any:
        from syllabus.core.ray.calls import result_of

        return result_of(ref, self.timeout, f"the opponent store actor {self.name!r}")

    def put(self, agent_id: int, data: bytes) -> None:
        """Sends the snapshot to the actor and waits until it holds it."""
        self._get(self._handle(create=True).put.remote(agent_id, data))

    def get(self, agent_id: int) -> bytes | None:
        """Fetches the snapshot from the actor."""
        return self._get(self._handle(create=False).get.remote(agent_id))

    def delete(self, agent_id: int) -> None:
        """Removes the snapshot from the actor."""
        self._get(self._handle(create=True).delete.remote(agent_id))

    def ids(self) -> list[int]:
        """The ids the actor holds (none before the first write)."""
        try:
            return self._get(self._handle(create=False).ids.remote())
        except CurriculumError:
            if self._actor is None:
                return []
            raise

    def close(self) -> None:
        """Kills the actor if this handle started it; idempotent."""
        if self._owner and self._actor is not None:
            import ray

            with contextlib.suppress(Exception):
                ray.kill(self._actor)
        self._actor = None
        self._owner = False

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "namespace": self.namespace, "timeout": self.timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._actor = None
        self._owner = False

    def __repr__(self) -> str:
        return f"RayStore(name={self.name!r}, namespace={self.namespace!r})"


class OpponentPool:
    """Snapshots of the learning policy, by id, for self-play curricula and the envs that load them.

    The curriculum owns the pool and is its only writer: the learner adds snapshots through the
    curriculum (``curriculum.add_agent(policy.state_dict())``, which works through every sync
    backend), and environments, in any process, load them with [`load`][syllabus.curricula.OpponentPool.load].
    Pass environments the pool itself (it pickles to a small handle: the store and the ids,
    without its cache); a copy's ids are those of the moment it was pickled, so copies are for
    [`load`][syllabus.curricula.OpponentPool.load] only. Thread-safe.

    The pool keeps the last ``max_agents`` snapshots as opponents. An older snapshot leaves the
    opponents but stays loadable for ``retain_evicted`` more evictions, since an environment may
    still hold a task naming it (tasks are prefetched); after that it is deleted from the store.

    Args:
        store: A [`SnapshotStore`][syllabus.curricula.SnapshotStore], or a directory path for a
            [`DirectoryStore`][syllabus.curricula.DirectoryStore]; ``None``: a private temporary directory.
        max_agents: How many snapshots are opponents (the most recent ones).
        cache_size: How many unpickled snapshots each process keeps in memory (least recently used
            dropped first); 0 disables the cache.
        retain_evicted: How many snapshots that left the opponents stay loadable.
    """

    def __init__(
        self,
        store: SnapshotStore | str | os.PathLike[str] | None = None,
        *,
        max_agents: int = 10,
        cache_size: int = 4,
        retain_evicted: int = 4,
    ) -> None:
        self.max_agents = check_count("max_agents", max_agents, 1)
        self.cache_size = check_count("cache_size", cache_size, 0)
        self.retain_evicted = check_count("retain_evicted", retain_evicted, 0)
        if store is None or isinstance(store, (str, os.PathLike)):
            store = DirectoryStore(store)
        for method in ("put", "get", "delete", "ids", "close"):
            if not callable(getattr(store, method, None)):
                raise TypeError(
                    f"store must be a directory path or a SnapshotStore (put, get, delete, ids, close), got {store!r}"
                )
        self.store: SnapshotStore = store
        self._ids: deque[int] = deque()  # the opponents, oldest first
        self._evicted: deque[int] = deque()  # still loadable, oldest first
        self._next_id = 0
        self._cache: OrderedDict[int, Any] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._lock = threading.RLock()  # the ids: a learner thread may add while the sync thread samples

    # ------------------------------------------------------------------ learner side
    def add_agent(self, agent: Any) -> int:
        """Adds a snapshot (any picklable object, typically a policy's ``state_dict()``) and returns its id.

        The snapshot is pickled now: later changes to ``agent`` do not reach the pool. When the pool
        holds ``max_agents`` opponents, the oldest leaves them.

        Raises:
            TypeError: ``agent`` cannot be pickled.
        """
        try:
            data = pickle.dumps(agent, protocol=_PICKLE_PROTOCOL)
        except Exception as exc:
            raise TypeError(
                f"add_agent needs a picklable snapshot (e.g. a state_dict), got {type(agent).__name__}: {exc}"
            ) from exc
        with self._lock:
            agent_id = self._next_id
            self.store.put(agent_id, data)
            self._next_id += 1
            self._ids.append(agent_id)
            self._apply_bounds()
        return agent_id

    def _apply_bounds(self) -> None:
        """Evicts opponents beyond ``max_agents``, deletes evicted snapshots beyond ``retain_evicted``."""
        while len(self._ids) > self.max_agents:
            self._evicted.append(self._ids.popleft())
        while len(self._evicted) > self.retain_evicted:
            gone = self._evicted.popleft()
            self.store.delete(gone)
            with self._cache_lock:
                self._cache.pop(gone, None)

    @property
    def agent_ids(self) -> list[int]:
        """The opponents' ids, oldest first (at most ``max_agents``)."""
        with self._lock:
            return list(self._ids)

    @property
    def latest_id(self) -> int | None:
        """The id of the most recent snapshot, ``None`` while the pool is empty."""
        with self._lock:
            return self._ids[-1] if self._ids else None

    @property
    def loadable_ids(self) -> list[int]:
        """Every id [`load`][syllabus.curricula.OpponentPool.load] accepts: retained evicted ones, then opponents."""
        with self._lock:
            return [*self._evicted, *self._ids]

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, agent_id: object) -> bool:
        with self._lock:
            return agent_id in self._ids

    # ------------------------------------------------------------------ environment side
    def load(self, agent_id: int) -> Any:
        """The snapshot of ``agent_id``, from this process's cache or the store.

        The returned object may be shared with later calls (it is cached): read it, do not change it
        (``policy.load_state_dict(pool.load(i))`` copies the weights, as it should).

        Raises:
            KeyError: The store has no snapshot ``agent_id`` (never added, or deleted after eviction).
        """
        with self._cache_lock:
            if agent_id in self._cache:
                self._cache.move_to_end(agent_id)
                return self._cache[agent_id]
        data = self.store.get(agent_id)
        if data is None:
            raise KeyError(
                f"opponent {agent_id!r} is not in the pool's store {self.store!r}: it was never added, it was "
                "evicted and deleted (raise retain_evicted if tasks outlive that many additions), or this process "
                "cannot see the store (a directory on another machine: use a shared directory or a RayStore)"
            )
        agent = pickle.loads(data)
        if self.cache_size:
            with self._cache_lock:
                self._cache[agent_id] = agent
                self._cache.move_to_end(agent_id)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return agent

    @property
    def cached_ids(self) -> list[int]:
        """The ids whose snapshots this process holds in memory, least recently used first."""
        with self._cache_lock:
            return list(self._cache)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The ids and the pickled bytes of every loadable snapshot: enough to rebuild the pool anywhere.

        Raises:
            CurriculumError: The store lost a snapshot the pool still lists.
        """
        with self._lock:
            snapshots = {}
            for agent_id in self.loadable_ids:
                data = self.store.get(agent_id)
                if data is None:
                    raise CurriculumError(
                        f"the store {self.store!r} lost opponent {agent_id}, which the pool still lists"
                    )
                snapshots[agent_id] = data
            return {
                "ids": list(self._ids),
                "evicted": list(self._evicted),
                "next_id": self._next_id,
                "snapshots": snapshots,
            }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a [`state_dict`][syllabus.curricula.OpponentPool.state_dict]: writes its snapshots to this pool's store.

        Afterwards the store holds exactly the state's snapshots: others (e.g. ones a resumed run's
        directory kept from after its last checkpoint) are deleted. Call it before environments
        load opponents (their caches key snapshots by id). The pool's ``max_agents`` and
        ``retain_evicted`` stay this pool's; extra snapshots are evicted or deleted.
        """
        with self._lock:
            keep = set(state["snapshots"])
            for agent_id in self.store.ids():
                if agent_id not in keep:
                    self.store.delete(agent_id)
            for agent_id, data in state["snapshots"].items():
                self.store.put(agent_id, data)
            self._ids = deque(state["ids"])
            self._evicted = deque(state["evicted"])
            self._next_id = state["next_id"]
            with self._cache_lock:
                self._cache.clear()
            self._apply_bounds()

    def close(self) -> None:
        """Closes the store (removing a temporary directory this pool made); idempotent."""
        self.store.close()
        with self._cache_lock:
            self._cache.clear()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_cache"], state["_cache_lock"], state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cache = OrderedDict()
        self._cache_lock = threading.Lock()
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"OpponentPool({self.store!r}, max_agents={self.max_agents}, opponents={self.agent_ids})"
