"""Integrations with RL libraries; each submodule imports its library only when imported itself.

* :mod:`syllabus.integrations.sb3`: :class:`~syllabus.integrations.sb3.PLRCallback` feeds
  Prioritized Level Replay from Stable-Baselines3 on-policy algorithms.
* :mod:`syllabus.integrations.sb3_vec_env`: :class:`~syllabus.integrations.sb3_vec_env.GuardedSubprocVecEnv`,
  SB3's ``SubprocVecEnv`` that raises instead of hanging when a worker dies or raises.
* :mod:`syllabus.integrations.rllib`: RLlib (new API stack) env creator, callback and PLR feeder
  for curricula served by :func:`~syllabus.core.make_ray_curriculum`.
"""
