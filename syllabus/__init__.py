"""Syllabus: curriculum learning for any reinforcement-learning training loop."""

__version__ = "0.1.0"
