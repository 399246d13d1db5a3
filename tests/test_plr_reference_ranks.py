"""The reference mode's incremental rank order equals the reference's full sort, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from syllabus.curricula.plr.reference import ReferenceRanks, weights


@pytest.mark.parametrize("seed", range(40))
def test_incremental_rank_weights_equal_the_full_sort(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    temperature = float(rng.choice([0.1, 0.5, 1.0, 3.0]))
    scores, scored = np.zeros(n), np.zeros(n, dtype=np.bool_)
    ranks = ReferenceRanks(n, temperature)
    for _ in range(8):
        changed = rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False)
        # Few distinct values, zeros and negatives included, so ties (also with unscored tasks) are common.
        scores[changed] = rng.choice([-1.5, -0.0, 0.0, 0.25, 0.25, 2.0], size=len(changed))
        scored[changed] = True
        ranks.update(scores, changed)
        expected = weights("rank", scores, scored, temperature, 0.0, 0.0)
        assert np.array_equal(ranks.weights(scores, scored), expected)
        rebuilt = ReferenceRanks(n, temperature, scores, scored)  # as after load_state_dict
        assert np.array_equal(rebuilt.order, ranks.order)
