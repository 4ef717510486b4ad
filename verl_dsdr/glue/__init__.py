"""verl-dsdr's glue to verl 0.9.1: wire contract, reward manager, group trainer, task runner, verl internals.

Only :mod:`.wire` is importable without verl; the other modules import verl and are loaded
where they run (reward workers, the TaskRunner actor).
"""
