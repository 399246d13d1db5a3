"""The stages of one training run after validation, one module each: build, learn, finish.

Validation, the first stage, is [`syllabus.cli.schema.validate`][syllabus.cli.schema.validate]: one
call without side effects, run before anything starts (the run directory included).
[`syllabus.cli.training.train`][syllabus.cli.training.train] then runs the others in order. Building
starts the sync backend (a forkserver, or a Ray join), restores the curriculum and the trainer state
and opens the learner; learning trains under Ctrl-C and SIGTERM handling; finishing records how the
run ended in ``meta.json``, whatever happened.
"""
