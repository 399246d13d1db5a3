"""The stages of one training run, one module each: validate, build, learn, finish.

[`syllabus.cli.training.train`][syllabus.cli.training.train] runs them in that order. Validation has
no side effects and runs before anything starts; building joins Ray, restores the curriculum and the
trainer state and opens the learner; learning trains under Ctrl-C and SIGTERM handling; finishing
records how the run ended in ``meta.json``, whatever happened.
"""
