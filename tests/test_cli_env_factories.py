"""The env factories the runner sends to Ray env actors load without Stable-Baselines3 or torch.

Ray unpickles each factory in its env actor: whatever modules the pickle names are imported there. An
actor that imported torch took about 200 MB more memory and seconds more to start, per env.
"""

from __future__ import annotations

import subprocess
import sys
from functools import partial

import cloudpickle
from hydra import compose, initialize_config_dir
from syllabus.cli.env_factories import ray_env
from syllabus.cli.hydra_app import CONFIG_DIR
from syllabus.cli.schema import validate
from timeouts import scaled

from syllabus.integrations.env_guard import guard_env_fns

LOAD_AND_BUILD = """
import sys, cloudpickle
factory = cloudpickle.loads(sys.stdin.buffer.read())
env = factory()
obs, info = env.reset(seed=0)
env.step(env.action_space.sample())
print(sorted(m for m in ("torch", "stable_baselines3") if m in sys.modules), info["task"] is not None)
"""


def test_a_ray_env_factory_loads_and_builds_without_torch(tmp_path):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
        run = validate(compose("train", overrides=["sync=ray"]))
    (factory,) = guard_env_fns([partial(ray_env, run.env, None, "curriculum", None, 10.0, index=0)])
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_BUILD],
        input=cloudpickle.dumps(factory), cwd=tmp_path, capture_output=True, timeout=scaled(60),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().split() == ["[]", "True"], result.stderr.decode()
