"""The Syllabus experiment runner: Typer CLI, Hydra configs to objects, run directories."""

import sys
from types import ModuleType
from typing import cast

# Old `gym` (pulled in by procgen-mirror) prints an "unmaintained" banner to stderr when Stable-Baselines3
# imports it, in this process and in every env worker that imports this package. gym prints it only
# if it can import `gym_notices`; hide that module unless gym was already imported.
if "gym" not in sys.modules:
    # None makes `import gym_notices` raise ImportError (typeshed types sys.modules without None).
    cast(dict[str, ModuleType | None], sys.modules).setdefault("gym_notices", None)
