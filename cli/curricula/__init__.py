"""The runner's curricula: one module per ``curriculum=`` option (or family), each with its ``ENTRIES``
([`CurriculumEntry`][syllabus.cli.registry.CurriculumEntry])."""
