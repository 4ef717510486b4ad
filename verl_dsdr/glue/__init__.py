"""verl-dsdr's glue to verl 0.9.1: reward manager, group trainer, task runner, verl internals.

These modules import verl and are loaded where they run (reward workers, the TaskRunner actor).
What travels between them without verl is :mod:`verl_dsdr.methods.wire`.
"""
