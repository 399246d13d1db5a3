"""Task spaces: the sets of tasks a curriculum chooses from, with sampling and encodings.

Enumerable spaces (discrete kinds, and composites of them) encode tasks as dense indices in
``range(num_tasks)``; Box spaces and composites containing one are not enumerable.
"""

from syllabus.task_space.base import TaskSpace, TaskSpaceError
from syllabus.task_space.box import BoxTaskSpace
from syllabus.task_space.composite import DictTaskSpace, TupleTaskSpace
from syllabus.task_space.discrete import DiscreteTaskSpace, MultiDiscreteTaskSpace

__all__ = [
    "BoxTaskSpace",
    "DictTaskSpace",
    "DiscreteTaskSpace",
    "MultiDiscreteTaskSpace",
    "TaskSpace",
    "TaskSpaceError",
    "TupleTaskSpace",
]
