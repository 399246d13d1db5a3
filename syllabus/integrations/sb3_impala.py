"""The IMPALA ResNet encoder of the Procgen and PLR papers, as a Stable-Baselines3 features extractor.

Architecture (Espeholt et al. 2018, "IMPALA", the "deep" network; used by Cobbe et al. 2020 for
Procgen and by Jiang et al. 2021 for PLR with channels 16, 32, 32 and 256 hidden units): three stacks,
each a 3x3 convolution (stride 1, same padding), a 3x3 max pool with stride 2 (padding 1) and two
residual blocks ``x + conv(relu(conv(relu(x))))``; then ReLU, flatten, a linear layer to 256 units and
ReLU. A 64x64 Procgen frame comes out of the stacks as 32 x 8 x 8 = 2048 features.

Use it with SB3's ``CnnPolicy`` through [`impala_policy_kwargs`][syllabus.integrations.sb3_impala.impala_policy_kwargs] (linear policy and value heads on
the 256 features, as in the papers), or by the runner's policy name ``"impala"`` ([`sb3_policy`][syllabus.integrations.sb3_impala.sb3_policy]).

Importing this module imports Stable-Baselines3 and torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space_channels_first
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn
from torch.nn import functional as F

#: The runner's policy name for a ``CnnPolicy`` with this encoder (``learner.policy: impala``).
IMPALA_POLICY = "impala"


class ResidualBlock(nn.Module):
    """``x + conv(relu(conv(relu(x))))`` with two 3x3 same-padding convolutions of ``channels``.

    Args:
        channels: Input and output channels.
        skip_after_relu: Add ``relu(x)`` instead of ``x`` to the output, as facebookresearch/level-replay's
            PyTorch code does in effect (its in-place ReLU overwrites the saved input). Off: the IMPALA
            paper's block.
    """

    def __init__(self, channels: int, *, skip_after_relu: bool = False) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.skip_after_relu = skip_after_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Applies the block to a ``(batch, channels, height, width)`` tensor.

        Args:
            x: A ``(batch, channels, height, width)`` feature map.
        """
        activated = F.relu(x)
        out = self.conv1(F.relu(self.conv0(activated)))
        return out + (activated if self.skip_after_relu else x)


class ConvStack(nn.Sequential):
    """One IMPALA stack: 3x3 convolution to ``out_channels``, 3x3 max pool with stride 2, two residual blocks.

    Halves height and width (rounding up).

    Args:
        in_channels: Input channels.
        out_channels: Channels of the convolution and the residual blocks.
        skip_after_relu: See [`ResidualBlock`][syllabus.integrations.sb3_impala.ResidualBlock].
    """

    def __init__(self, in_channels: int, out_channels: int, *, skip_after_relu: bool = False) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            ResidualBlock(out_channels, skip_after_relu=skip_after_relu),
            ResidualBlock(out_channels, skip_after_relu=skip_after_relu),
        )


class ImpalaCNN(BaseFeaturesExtractor):
    """The IMPALA ResNet encoder (see the module docstring) as an SB3 features extractor.

    Takes image observation spaces channels-first (``C x H x W``, what SB3 feeds policies after its
    automatic ``VecTransposeImage``) or channels-last (``H x W x C``, e.g. a Procgen frame when the
    transpose is skipped); channels-last inputs are permuted in [`forward`][syllabus.integrations.sb3_impala.ImpalaCNN.forward]. SB3 scales uint8
    images to [0, 1] before the extractor (``normalize_images=True``).

    SB3's ``ortho_init`` (on by default) re-initializes every layer orthogonally with gain sqrt(2);
    the PLR reference code uses Xavier-uniform convolutions and an orthogonal (ReLU gain) linear layer.

    Args:
        observation_space: A 3-dimensional image ``Box``.
        features_dim: Units of the final linear layer (256 in the papers).
        channels: Output channels of each stack (16, 32, 32 in the papers).
        skip_after_relu: See [`ResidualBlock`][syllabus.integrations.sb3_impala.ResidualBlock].
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        features_dim: int = 256,
        channels: Sequence[int] = (16, 32, 32),
        *,
        skip_after_relu: bool = False,
    ) -> None:
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 3:
            raise ValueError(
                f"ImpalaCNN needs an image Box observation space (3 dims), got {observation_space}"
            )
        super().__init__(observation_space, features_dim)
        self.channels_last = not is_image_space_channels_first(observation_space)
        shape = observation_space.shape
        image_channels, height, width = (shape[2], shape[0], shape[1]) if self.channels_last else shape
        stacks, in_channels = [], image_channels
        for out_channels in channels:
            stacks.append(ConvStack(in_channels, out_channels, skip_after_relu=skip_after_relu))
            in_channels = out_channels
        self.stacks = nn.Sequential(*stacks)
        with torch.no_grad():
            flat = self.stacks(torch.zeros(1, image_channels, height, width)).numel()
        self.linear = nn.Linear(flat, features_dim)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Encodes a batch of images (already scaled by SB3) into ``(batch, features_dim)`` features.

        Args:
            observations: A batch of image observations, channels first, already scaled by SB3.
        """
        if self.channels_last:
            observations = observations.permute(0, 3, 1, 2)
        x = self.stacks(observations)
        return F.relu(self.linear(F.relu(torch.flatten(x, start_dim=1))))


def impala_policy_kwargs(**overrides: Any) -> dict[str, Any]:
    """``policy_kwargs`` of SB3's ``CnnPolicy`` for the papers' agent: [`ImpalaCNN`][syllabus.integrations.sb3_impala.ImpalaCNN] features
    shared by linear policy and value heads (``net_arch=[]``); ``overrides`` replace entries.

    Args:
        overrides: Entries that replace the defaults (e.g. ``features_extractor_kwargs``).
    """
    return {
        "features_extractor_class": ImpalaCNN,
        "features_extractor_kwargs": {"features_dim": 256, "channels": (16, 32, 32)},
        "net_arch": [],
        **overrides,
    }


def sb3_policy(
    policy: str, policy_kwargs: Mapping[str, Any] | None = None
) -> tuple[str, dict[str, Any] | None]:
    """The SB3 policy and ``policy_kwargs`` of a policy name: ``"impala"`` is ``CnnPolicy`` with
    [`impala_policy_kwargs`][syllabus.integrations.sb3_impala.impala_policy_kwargs] (updated by ``policy_kwargs``); other names are passed through.

    Args:
        policy: A policy name: ``impala``, or any SB3 policy name or class.
        policy_kwargs: The user's ``policy_kwargs``, applied over the defaults.
    """
    if policy == IMPALA_POLICY:
        return "CnnPolicy", impala_policy_kwargs(**(policy_kwargs or {}))
    return policy, dict(policy_kwargs) if policy_kwargs else None
