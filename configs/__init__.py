"""Hydra config groups of the experiment runner (installed as package data ``syllabus.configs``)."""
