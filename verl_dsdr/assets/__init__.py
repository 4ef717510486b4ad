"""Locally built assets for running verl on a CPU: tokenizer, tiny Qwen2, toy task, warm start.

Nothing is downloaded: `build_assets()` makes everything on the machine and caches it.
Importing this package does not import verl or ray.
"""

from .build import AssetConfig, AssetPaths, build_assets, cache_key, default_cache_dir, load_stats
from .task import ArithProblem, parse_question, solution_forms

__all__ = [
    "ArithProblem",
    "AssetConfig",
    "AssetPaths",
    "build_assets",
    "cache_key",
    "default_cache_dir",
    "load_stats",
    "parse_question",
    "solution_forms",
]
