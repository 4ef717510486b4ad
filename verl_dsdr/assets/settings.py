"""The settings of an asset build that its cache key is made of, kept free of torch and transformers.

``python -m verl_dsdr.assets build --print-env`` (the quickstart and every example script) reads
them to find a finished build; importing the model or warm-start modules for that cost ~6 s of
torch and transformers imports per call. Re-exported by :mod:`verl_dsdr.assets.model` and
:mod:`verl_dsdr.assets.warm_start`, where they are used.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelShape:
    """The shape of the tiny model; `vocab_multiple` pads the vocabulary for aligned matmuls."""

    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 256
    max_position_embeddings: int = 512
    vocab_multiple: int = 64


@dataclass(frozen=True)
class WarmStartConfig:
    """Supervised warm-start settings (AdamW, linear warm-up then cosine decay to 10%)."""

    steps: int = 1200
    batch_size: int = 32
    lr: float = 5e-3
    warmup_steps: int = 20
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    mistake_rate: float = 0.0
    """Share of the targets of a problem with a systematic mistake (`task.mistake_forms`) written that way."""
    bare_two_op: bool = True
    """Whether two-operation problems may be taught the bare answer (a memorised value, no procedure)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.mistake_rate <= 1.0:
            raise ValueError(f"WarmStartConfig.mistake_rate must be in [0, 1], got {self.mistake_rate}")
