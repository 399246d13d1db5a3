"""The opponent pool: ids, eviction, the per-process cache, stores, and state that survives a new process."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from timeouts import scaled

from syllabus.curricula import DirectoryStore, OpponentPool


class CountingStore(DirectoryStore):
    """A directory store that counts reads, to tell cache hits from store reads."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.reads: list[int] = []

    def get(self, agent_id: int) -> bytes | None:
        self.reads.append(agent_id)
        return super().get(agent_id)


def test_ids_are_consecutive_and_snapshots_frozen_at_add(tmp_path):
    pool = OpponentPool(tmp_path, max_agents=3)
    assert pool.latest_id is None and len(pool) == 0
    weights = {"w": [0.0]}
    first = pool.add_agent(weights)
    weights["w"][0] = 1.0  # the learner trains on: the snapshot must not change
    assert [first, pool.add_agent(weights)] == [0, 1]
    assert pool.load(0) == {"w": [0.0]} and pool.load(1) == {"w": [1.0]}
    assert pool.agent_ids == [0, 1] and pool.latest_id == 1 and 1 in pool and 2 not in pool


def test_max_agents_eviction_and_retention(tmp_path):
    pool = OpponentPool(tmp_path, max_agents=2, retain_evicted=1, cache_size=0)
    for i in range(3):
        pool.add_agent(i)
    assert pool.agent_ids == [1, 2] and pool.loadable_ids == [0, 1, 2]
    assert pool.load(0) == 0, "an evicted snapshot stays loadable for retain_evicted evictions"
    pool.add_agent(3)
    assert pool.agent_ids == [2, 3] and pool.loadable_ids == [1, 2, 3]
    with pytest.raises(KeyError, match="opponent 0 is not in the pool's store.*retain_evicted"):
        pool.load(0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.pkl", "2.pkl", "3.pkl"]


def test_cache_is_lru_and_bounded(tmp_path):
    store = CountingStore(tmp_path)
    pool = OpponentPool(store, max_agents=10, cache_size=2)
    for i in range(4):
        pool.add_agent({"id": i})
    for i in (0, 1, 0, 2):  # 0 is used again before 2 comes, so 1 is the least recently used
        assert pool.load(i) == {"id": i}
    assert pool.cached_ids == [0, 2]
    assert store.reads == [0, 1, 2], "a cached snapshot must not be read again"
    pool.load(1)
    assert pool.cached_ids == [2, 1] and store.reads == [0, 1, 2, 1]
    uncached = OpponentPool(CountingStore(tmp_path), cache_size=0)
    uncached.load_state_dict(pool.state_dict())
    uncached.load(3)
    uncached.load(3)
    assert uncached.cached_ids == [] and uncached.store.reads == [3, 3]


def test_pickled_pool_reads_later_snapshots_without_owning_the_directory():
    pool = OpponentPool()  # a private temporary directory
    directory = pool.store.directory
    copy = pickle.loads(pickle.dumps(pool))
    pool.add_agent("added after pickling")
    assert copy.load(0) == "added after pickling"
    copy.close()
    assert directory.exists(), "a copy must not remove the owner's directory"
    pool.close()
    assert not directory.exists()


def test_temporary_directory_outlives_garbage_collection_and_forked_children(tmp_path):
    script = textwrap.dedent(
        """
        import gc, os, sys
        from syllabus.curricula import OpponentPool
        pool = OpponentPool()
        directory = pool.store.directory
        copy = OpponentPool.__new__(OpponentPool)
        copy.__setstate__(pool.__getstate__())  # what a Ray actor or an env process holds
        pool.add_agent("kept")
        del pool
        gc.collect()
        assert copy.load(0) == "kept", "collecting the owner removed the directory a copy uses"
        child = os.fork()
        if child == 0:
            sys.exit(0)  # a normal interpreter exit: inherited exit hooks run
        os.waitpid(child, 0)
        assert directory.exists(), "a forked child's exit removed its parent's directory"
        print(directory)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=scaled(60))
    assert done.returncode == 0, done.stderr
    directory = Path(done.stdout.strip())
    assert directory.name.startswith("syllabus-opponents-")
    assert not directory.exists(), "the directory must go when the process that made it exits"


def digest(snapshot: dict[str, np.ndarray]) -> str:
    return hashlib.sha256(b"".join(array.tobytes() for array in snapshot.values())).hexdigest()


def test_torch_state_dicts_round_trip_bit_for_bit(tmp_path):
    torch.manual_seed(0)
    policy = torch.nn.Linear(4, 3)
    pool = OpponentPool(tmp_path / "run")
    pool.add_agent(policy.state_dict())
    with torch.no_grad():
        policy.weight.add_(1.0)  # training goes on after the snapshot
    resumed = OpponentPool(tmp_path / "resumed")
    resumed.load_state_dict(pickle.loads(pickle.dumps(pool.state_dict())))
    loaded = resumed.load(0)
    assert torch.equal(loaded["weight"] + 1.0, policy.weight) and torch.equal(loaded["bias"], policy.bias)


def test_state_dict_round_trip_is_bit_for_bit_in_a_fresh_process(tmp_path):
    pool = OpponentPool(tmp_path / "run", max_agents=2, retain_evicted=1)
    rng = np.random.default_rng(0)
    snapshots = []
    for _ in range(4):
        snapshot = {"weight": rng.normal(size=(3, 4)).astype(np.float32), "bias": rng.normal(size=3)}
        snapshots.append(snapshot)
        pool.add_agent(snapshot)
    state = pool.state_dict()
    assert state["ids"] == [2, 3] and state["evicted"] == [1] and state["next_id"] == 4
    checkpoint = tmp_path / "pool.pkl"
    checkpoint.write_bytes(pickle.dumps(state))

    script = textwrap.dedent(
        f"""
        import hashlib, pickle
        from syllabus.curricula import OpponentPool
        state = pickle.loads(open({str(checkpoint)!r}, "rb").read())
        pool = OpponentPool({str(tmp_path / "resumed")!r}, max_agents=2, retain_evicted=1)
        pool.load_state_dict(state)
        for agent_id in pool.loadable_ids:
            snapshot = pool.load(agent_id)
            print(agent_id, hashlib.sha256(b"".join(a.tobytes() for a in snapshot.values())).hexdigest())
        print("same", pickle.dumps(pool.state_dict()) == pickle.dumps(state))
        print("next", pool.add_agent({{}}), pool.agent_ids)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=scaled(120))
    assert done.returncode == 0, done.stderr
    out = done.stdout.split("\n")
    assert out[:3] == [f"{i} {digest(snapshots[i])}" for i in (1, 2, 3)]
    assert out[3:5] == ["same True", "next 4 [3, 4]"]
    for i in (2, 3):  # 1 was deleted by the addition, as retain_evicted=1 says
        assert (tmp_path / "resumed" / f"{i}.pkl").read_bytes() == (
            tmp_path / "run" / f"{i}.pkl"
        ).read_bytes()


def test_load_state_dict_replaces_contents_and_applies_own_bounds(tmp_path):
    source = OpponentPool(tmp_path / "a", max_agents=4, retain_evicted=0)
    for i in range(4):
        source.add_agent(i)
    target = OpponentPool(tmp_path / "b", max_agents=2, retain_evicted=1)
    target.add_agent("old")
    target.load(0)  # cached: must not survive the load
    target.load_state_dict(source.state_dict())
    assert target.agent_ids == [2, 3] and target.loadable_ids == [1, 2, 3]
    assert [target.load(i) for i in (1, 2, 3)] == [1, 2, 3]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["1.pkl", "2.pkl", "3.pkl"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_agents must be an integer >= 1, got 0"):
        OpponentPool(max_agents=0)
    with pytest.raises(ValueError, match="cache_size must be an integer >= 0"):
        OpponentPool(cache_size=-1)
    with pytest.raises(TypeError, match="store must be a directory path or a SnapshotStore"):
        OpponentPool(store=42)  # type: ignore[arg-type]
    pool = OpponentPool()
    with pytest.raises(TypeError, match="add_agent needs a picklable snapshot"):
        pool.add_agent(lambda: None)
    assert len(pool) == 0 and list(pool.store.directory.iterdir()) == []
    pool.close()


def test_resume_into_the_same_directory_drops_later_snapshots(tmp_path):
    run = OpponentPool(tmp_path, max_agents=3)
    run.add_agent("a")
    checkpoint = run.state_dict()
    run.add_agent("b")  # added after the checkpoint, then the run died
    resumed = OpponentPool(tmp_path, max_agents=3)
    resumed.load_state_dict(checkpoint)
    assert sorted(resumed.store.ids()) == [0] and resumed.agent_ids == [0]
    assert resumed.add_agent("b again") == 1 and resumed.load(1) == "b again"
