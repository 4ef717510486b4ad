"""Build every local asset (tokenizer, tiny model, warm start, parquet files) and cache it.

A build goes into `<cache_dir>/<key>/`, where `key` hashes every input: the config, the seed,
`ASSETS_VERSION` and the versions of torch/transformers/tokenizers. It is written into a
temporary folder beside it, a `DONE` marker is written last, and the folder is renamed into
place in one step, so a reader sees either nothing or a complete build, and two processes
building at once both end with the same complete folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .settings import ModelShape, WarmStartConfig

ASSETS_VERSION = "2"
DONE_MARKER = "DONE"
CACHE_ENV = "VERL_DSDR_CACHE"

DEFAULT_KIND_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("add", 1.0),
    ("sub", 1.0),
    ("mul", 1.0),
    ("add_mul", 2.0),
    ("mul_add", 2.0),
)


@dataclass(frozen=True)
class AssetConfig:
    """Every input of a build except the seed (all of it goes into the cache key).

    `kind_weights` mixes problem kinds in both splits (`val_kind_weights`, when set, in the
    held-out split); the two-operation kinds get more weight because they are the ones the
    warm-started model gets only sometimes right (mixed groups). `covered_facts` keeps only
    held-out problems whose one-operation facts all occur in training (`task.facts`).
    `eval_*` set the sampling measurement stored in `stats.json`. `num_threads` is the torch
    thread count while building: 1, because for a model this small a second thread buys little
    and, on a shared 2-core machine, made the warm start 4-8x slower (threads waiting on each
    other). It is in the cache key because float reductions may depend on the thread count.
    """

    n_train: int = 1024
    n_val: int = 128
    kind_weights: tuple[tuple[str, float], ...] = DEFAULT_KIND_WEIGHTS
    val_kind_weights: tuple[tuple[str, float], ...] | None = None
    covered_facts: bool = False
    tokenizer_vocab_size: int = 384
    model: ModelShape = field(default_factory=ModelShape)
    warm_start: WarmStartConfig = field(default_factory=WarmStartConfig)
    eval_prompts: int = 64
    eval_samples: int = 8
    eval_max_new_tokens: int = 48
    eval_temperature: float = 1.0
    num_threads: int = 1


TOY_ASSETS = AssetConfig(
    n_train=2048,
    n_val=128,
    kind_weights=(("add", 1.0), ("sub", 1.0), ("mul", 1.0), ("add_mul", 3.0), ("mul_add", 2.0)),
    val_kind_weights=(("add_mul", 3.0), ("mul_add", 1.0)),
    covered_facts=True,
    # Four layers of 128: the 2 x 64 model memorised two-operation problems instead of composing
    # facts (held-out accuracy 4%); this one composes them (held-out mul_add 90%).
    model=ModelShape(hidden_size=128, num_hidden_layers=4, intermediate_size=512),
    warm_start=WarmStartConfig(steps=3000, lr=3e-3, mistake_rate=0.6, bare_two_op=False),
)
"""The toy reproduction's task (docs/TOY_REPRODUCTION.md): every fact taught, the procedure not.

The warm start writes `a + b * c` left to right in `mistake_rate` of its targets, so RL has a
procedure to sharpen; held-out problems are two-operation problems whose facts all occur in
training, so what RL reinforces on training prompts can carry over to them.
"""

TOY_SMOKE_ASSETS = replace(
    TOY_ASSETS, n_train=256, n_val=16, warm_start=replace(TOY_ASSETS.warm_start, steps=100), eval_prompts=16
)
"""The toy's task with a short warm start: for the smoke run in CI, which checks the plumbing, not learning."""

PRESETS: dict[str, AssetConfig] = {"default": AssetConfig(), "toy": TOY_ASSETS, "toy_smoke": TOY_SMOKE_ASSETS}


@dataclass(frozen=True)
class AssetPaths:
    """Where a complete build lives; `tokenizer_dir` is the model folder (saved together)."""

    root: str
    model_dir: str
    tokenizer_dir: str
    train_parquet: str
    val_parquet: str
    stats_json: str


def default_cache_dir() -> Path:
    """`$VERL_DSDR_CACHE`, else `<repo>/.cache/verl_dsdr` for a source checkout, else a temp folder.

    Never the home folder: a package installed outside a checkout caches under the system
    temp folder unless `VERL_DSDR_CACHE` says otherwise.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    root = checkout_cache_root()
    if root is not None:
        return root / "verl_dsdr"
    return Path(tempfile.gettempdir()) / "verl_dsdr_cache"


def checkout_cache_root() -> Path | None:
    """``<repo>/.cache`` when the package runs from a source checkout (where the scripts keep every
    cache: ``scripts/lib/env.sh``), else None."""
    repo = Path(__file__).resolve().parents[2]
    if any((repo / marker).exists() for marker in (".git", "setup.py", "pyproject.toml")):
        return repo / ".cache"
    return None


def keep_inductor_cache_in_checkout() -> None:
    """Point torch's inductor cache at ``<repo>/.cache/torchinductor`` unless it is set already.

    ``import verl`` makes torch create its inductor cache folder, ``/tmp/torchinductor_<user>`` by
    default; a process that imports verl outside the scripts' environment (``python -m
    verl_dsdr.main_ppo``, the benchmarks) would leave that folder in /tmp. Called before verl is
    imported; an installed package (no checkout) keeps torch's own default.
    """
    root = checkout_cache_root()
    if root is not None:
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(root / "torchinductor"))


def cache_key(config: AssetConfig, seed: int) -> str:
    """16 hex digits of the SHA-256 of all build inputs.

    The library versions are read from the installed packages' metadata (the same strings as their
    ``__version__``), so finding a cached build imports neither torch nor transformers.
    """
    from importlib.metadata import version

    payload = {
        "version": ASSETS_VERSION,
        "seed": seed,
        "config": asdict(config),
        "libraries": [version("torch"), version("transformers"), version("tokenizers")],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def paths_in(root: str | Path) -> AssetPaths:
    """The `AssetPaths` of a build folder (complete or not)."""
    root = Path(root)
    model_dir = str(root / "model")
    return AssetPaths(
        root=str(root),
        model_dir=model_dir,
        tokenizer_dir=model_dir,
        train_parquet=str(root / "data" / "train.parquet"),
        val_parquet=str(root / "data" / "val.parquet"),
        stats_json=str(root / "stats.json"),
    )


def is_complete(root: str | Path) -> bool:
    """True when `root` holds a finished build (its `DONE` marker exists)."""
    return (Path(root) / DONE_MARKER).is_file()


def load_stats(paths: AssetPaths) -> dict:
    """The measurements written by the build (see `stats.json` in docs/ASSETS.md)."""
    return json.loads(Path(paths.stats_json).read_text())


def _validate(config: AssetConfig, seed: int) -> None:
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if config.n_train <= 0 or config.n_val <= 0:
        raise ValueError(f"n_train and n_val must be positive, got {config.n_train}, {config.n_val}")
    if not 0 < config.eval_prompts <= config.n_val:
        raise ValueError(f"eval_prompts must be in 1..n_val ({config.n_val}), got {config.eval_prompts}")
    if config.eval_samples <= 0 or config.num_threads <= 0:
        raise ValueError("eval_samples and num_threads must be positive")


def _build_into(root: Path, config: AssetConfig, seed: int, progress: bool) -> dict:
    """Write a full build into `root` (an empty folder) and return its stats."""
    import torch

    from .model import build_model, save_checkpoint
    from .task import split_problems, tokenizer_corpus, write_parquet
    from .tokenizer import build_tokenizer
    from .warm_start import measure, warm_start

    started = time.perf_counter()
    tokenizer = build_tokenizer(tokenizer_corpus(), config.tokenizer_vocab_size)
    val_weights = dict(config.val_kind_weights) if config.val_kind_weights is not None else None
    train, val = split_problems(
        config.n_train, config.n_val, seed, dict(config.kind_weights), val_weights, config.covered_facts
    )
    (root / "data").mkdir(parents=True)
    paths = paths_in(root)
    write_parquet(train, "train", paths.train_parquet)
    write_parquet(val, "val", paths.val_parquet)

    model = build_model(config.model, tokenizer, seed)
    ws_started = time.perf_counter()
    losses = warm_start(model, tokenizer, train, config.warm_start, seed, progress=progress)
    ws_seconds = time.perf_counter() - ws_started

    eval_started = time.perf_counter()
    train_eval = list(dict.fromkeys(train))[: config.eval_prompts]
    sampling = {
        split: measure(
            model,
            tokenizer,
            problems,
            config.eval_samples,
            max_new_tokens=config.eval_max_new_tokens,
            temperature=config.eval_temperature,
            seed=seed,
        )
        for split, problems in (("train", train_eval), ("val", val[: config.eval_prompts]))
    }
    eval_seconds = time.perf_counter() - eval_started
    save_checkpoint(model, tokenizer, paths.model_dir)

    tail = losses[-20:]
    stats = {
        "seed": seed,
        "num_threads": torch.get_num_threads(),
        "vocab_size_tokenizer": len(tokenizer),
        "vocab_size_model": model.config.vocab_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "n_train": len(train),
        "n_val": len(val),
        "warm_start": {
            "steps": len(losses),
            "first_loss": losses[0] if losses else None,
            "final_loss": sum(tail) / len(tail) if tail else None,
            "seconds": ws_seconds,
        },
        "eval_temperature": config.eval_temperature,
        "sampling": sampling,
        "eval_seconds": eval_seconds,
        "build_seconds": time.perf_counter() - started,
    }
    Path(paths.stats_json).write_text(json.dumps(stats, indent=2))
    (root / "config.json").write_text(json.dumps({"seed": seed, "config": asdict(config)}, indent=2, sort_keys=True))
    return stats


def build_assets(
    cache_dir: str | None = None,
    seed: int = 0,
    config: AssetConfig | None = None,
    progress: bool = False,
) -> AssetPaths:
    """Build (or reuse) the assets for `config` and `seed`; returns where they are.

    A complete cached build (its `DONE` marker present) is returned as is, without touching
    it. An incomplete folder under the final name is removed and rebuilt.
    """
    config = config or AssetConfig()
    _validate(config, seed)
    parent = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    final = parent / cache_key(config, seed)
    if is_complete(final):
        return paths_in(final)
    if final.exists() and not is_complete(final):
        shutil.rmtree(final)
    import torch

    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=parent))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(config.num_threads)
        _build_into(staging, config, seed, progress)
        (staging / DONE_MARKER).write_text(f"{time.time()}\n")
        staging.chmod(0o755)
        try:
            os.rename(staging, final)
        except OSError:
            if not is_complete(final):
                raise
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        torch.set_num_threads(threads)
    return paths_in(final)


def summary_line(stats: dict) -> str:
    """One line with the measured sampling accuracy and group mix, for logs and the CLI."""
    parts = []
    for split, s in stats["sampling"].items():
        parts.append(
            f"{split} acc {s['accuracy']:.3f} (groups: mixed {s['mixed']:.2f}, "
            f"all-correct {s['all_correct']:.2f}, all-wrong {s['all_wrong']:.2f}; "
            f"{s['forms_per_group']:.2f} correct forms/group)"
        )
    first = next(iter(stats["sampling"].values()))
    return (
        f"warm-start sampling at T={stats['eval_temperature']}, {first['n_groups']} prompts x {first['group_size']}: "
        + "; ".join(parts)
        + f"; built in {stats['build_seconds']:.1f}s"
    )
