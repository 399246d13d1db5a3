"""``curriculum=none``: no curriculum, no sync wrapper (the envs keep their own task)."""

from __future__ import annotations

from dataclasses import dataclass

from syllabus.cli.registry import CurriculumEntry


@dataclass
class NoCurriculumConfig:
    """No curriculum, no sync wrapper."""

    name: str = "none"


ENTRIES = (CurriculumEntry("none", NoCurriculumConfig),)
