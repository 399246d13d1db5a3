"""Hydra launchers of the ``syllabus`` runner (found by Hydra in its ``hydra_plugins`` namespace)."""
