"""What the RLlib integration takes from Ray: RLlib's base classes, Ray's cloudpickle and the Ray sync backend.

The one place the package imports them; without RLlib it raises with the install command.
"""

from syllabus.core.ray.calls import DEFAULT_NAME, DEFAULT_TIMEOUT
from syllabus.core.ray.env_wrapper import RaySyncWrapper
from syllabus.core.ray.handle import RayCurriculumWrapper, attach_ray_curriculum, make_ray_curriculum
from syllabus.core.ray.transport import DEFAULT_PREFETCH, FORK_FIX, forked_from_ray

try:
    from ray import cloudpickle
    from ray.rllib.callbacks.callbacks import RLlibCallback
    from ray.rllib.connectors.connector_v2 import ConnectorV2
except ImportError:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "syllabus.integrations.rllib needs RLlib: pip install 'syllabus-curriculum[rllib]'"
    ) from None

__all__ = [
    "DEFAULT_NAME",
    "DEFAULT_PREFETCH",
    "DEFAULT_TIMEOUT",
    "FORK_FIX",
    "ConnectorV2",
    "RLlibCallback",
    "RayCurriculumWrapper",
    "RaySyncWrapper",
    "attach_ray_curriculum",
    "cloudpickle",
    "forked_from_ray",
    "make_ray_curriculum",
]
