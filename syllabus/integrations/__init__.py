"""Integrations with RL libraries; each submodule imports its library only when imported itself.

* [`syllabus.integrations.sb3`][syllabus.integrations.sb3]: [`PLRCallback`][syllabus.integrations.sb3.PLRCallback] feeds
  Prioritized Level Replay from Stable-Baselines3 on-policy algorithms.
* [`syllabus.integrations.sb3_vec_env`][syllabus.integrations.sb3_vec_env]: [`GuardedSubprocVecEnv`][syllabus.integrations.sb3_vec_env.GuardedSubprocVecEnv],
  SB3's ``SubprocVecEnv`` that raises instead of hanging when a worker dies or raises.
* [`syllabus.integrations.rllib`][syllabus.integrations.rllib]: RLlib (new API stack) env creator, callback and PLR feeder
  for curricula served by [`make_ray_curriculum`][syllabus.core.ray.handle.make_ray_curriculum].
"""
