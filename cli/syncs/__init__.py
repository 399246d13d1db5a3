"""The runner's sync backends: one module per ``sync=`` option, each with its ``ENTRIES``
([`SyncEntry`][syllabus.cli.registry.SyncEntry]): how envs run and reach the curriculum."""

WORKER_GRACE = 5.0
"""Seconds the learner waits for an env beyond ``sync.timeout``, so that the env's own error (e.g. its
wait for a task timed out) arrives before the learner gives up on it."""
