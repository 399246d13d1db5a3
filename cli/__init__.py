"""The Syllabus experiment runner: Typer CLI, Hydra configs to objects, run directories."""

import sys

# Old `gym` (pulled in by procgen-mirror) prints an "unmaintained" banner to stderr when Stable-Baselines3
# imports it, in this process and in every env worker that imports this package. gym prints it only
# if it can import `gym_notices`; hide that module unless gym was already imported.
if "gym" not in sys.modules:
    sys.modules.setdefault("gym_notices", None)
