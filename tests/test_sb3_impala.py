"""Tests of the IMPALA ResNet features extractor and its use as the Procgen agent."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from syllabus.integrations.sb3_impala import ImpalaCNN, ResidualBlock, impala_policy_kwargs, sb3_policy

PROCGEN_FRAME = spaces.Box(0, 255, (64, 64, 3), np.uint8)  # channels-last, as ProcgenTaskEnv gives it
CHANNELS_FIRST = spaces.Box(0, 255, (3, 64, 64), np.uint8)  # what SB3 feeds after VecTransposeImage

# Parameters, derived from the architecture (3x3 convs with bias; max pools have none):
#   a conv from c_in to c_out channels: 9 * c_in * c_out + c_out
#   stack 1 (3 -> 16):  conv 9*3*16+16 = 448;    2 blocks x 2 convs x (9*16*16+16 = 2320) = 9280;  9728
#   stack 2 (16 -> 32): conv 9*16*32+32 = 4640;  2 blocks x 2 convs x (9*32*32+32 = 9248) = 36992; 41632
#   stack 3 (32 -> 32): conv 9*32*32+32 = 9248;  36992;                                           46240
#   64x64 -> 32 -> 16 -> 8 (pools of stride 2), so 32 * 8 * 8 = 2048 features into the linear layer:
#   linear 2048 * 256 + 256 = 524544
#   total 9728 + 41632 + 46240 + 524544 = 622144
IMPALA_PARAMETERS = 622_144
# The papers' policy adds linear heads on the 256 features: 15 actions (256*15+15) and a value (257).
POLICY_PARAMETERS = IMPALA_PARAMETERS + 256 * 15 + 15 + 256 + 1


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("space", [PROCGEN_FRAME, CHANNELS_FIRST], ids=["channels_last", "channels_first"])
def test_procgen_frames_give_256_nonnegative_features(space):
    extractor = ImpalaCNN(space)
    out = extractor(torch.rand(5, *space.shape))
    assert out.shape == (5, 256)
    assert extractor.features_dim == 256
    assert (out >= 0).all()  # ends in a ReLU


def test_parameter_count_matches_the_hand_derived_figure():
    assert _count(ImpalaCNN(PROCGEN_FRAME)) == IMPALA_PARAMETERS
    assert _count(ImpalaCNN(CHANNELS_FIRST)) == IMPALA_PARAMETERS
    assert ImpalaCNN(CHANNELS_FIRST).linear.in_features == 2048


def test_channels_last_input_is_the_transposed_channels_first_input():
    last, first = ImpalaCNN(PROCGEN_FRAME), ImpalaCNN(CHANNELS_FIRST)
    first.load_state_dict(last.state_dict())
    frames = torch.rand(3, 64, 64, 3)
    torch.testing.assert_close(last(frames), first(frames.permute(0, 3, 1, 2)))
    assert last.channels_last and not first.channels_last


def test_residual_block_adds_its_input_or_the_reference_codes_relu_of_it():
    x = torch.randn(2, 4, 5, 5)
    paper, reference = ResidualBlock(4), ResidualBlock(4, skip_after_relu=True)
    reference.load_state_dict(paper.state_dict())
    residual = paper.conv1(torch.relu(paper.conv0(torch.relu(x))))
    torch.testing.assert_close(paper(x), x + residual)
    torch.testing.assert_close(reference(x), torch.relu(x) + residual)


def test_non_image_spaces_are_rejected():
    with pytest.raises(ValueError, match="image Box"):
        ImpalaCNN(spaces.Box(0, 1, (10,), np.float32))


def test_sb3_policy_names():
    assert sb3_policy("impala") == ("CnnPolicy", impala_policy_kwargs())
    policy, kwargs = sb3_policy("impala", {"net_arch": [64]})
    assert (policy, kwargs["net_arch"], kwargs["features_extractor_class"]) == ("CnnPolicy", [64], ImpalaCNN)
    assert sb3_policy("MlpPolicy") == ("MlpPolicy", None)
    assert sb3_policy("MlpPolicy", {"net_arch": [8]}) == ("MlpPolicy", {"net_arch": [8]})


@pytest.mark.timeout(120)
def test_ppo_on_procgen_trains_the_papers_agent():
    from syllabus.envs.procgen import make_procgen

    venv = DummyVecEnv([lambda: make_procgen("coinrun", num_levels=5)] * 2)
    model = PPO(
        "CnnPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, policy_kwargs=impala_policy_kwargs(), seed=0
    )
    policy = model.policy
    assert isinstance(policy.features_extractor, ImpalaCNN)
    assert not policy.features_extractor.channels_last  # SB3 transposed the frames to channels-first
    assert _count(policy) == POLICY_PARAMETERS
    before = [p.detach().clone() for p in policy.parameters()]
    model.learn(32)
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.parameters(), strict=True))
    venv.close()


def test_the_runner_builds_the_impala_agent_for_env_procgen():
    from hydra import compose, initialize_config_dir
    from syllabus.cli.builders import make_task_env
    from syllabus.cli.hydra_app import CONFIG_DIR
    from syllabus.cli.learners.sb3 import make_ppo
    from syllabus.cli.schema import validate

    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
        run = validate(compose("train", overrides=["env=procgen", "curriculum=dr", "num_envs=1"]))
    venv = DummyVecEnv([lambda: make_task_env(run.env)])
    try:
        model = make_ppo(run, venv)
        assert isinstance(model.policy.features_extractor, ImpalaCNN)
        assert _count(model.policy) == POLICY_PARAMETERS
    finally:
        venv.close()
