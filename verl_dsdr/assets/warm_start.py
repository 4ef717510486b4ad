"""Warm start: a short supervised fine-tune so that sampling is right part of the time.

A random model never produces `\\boxed{<right answer>}`, so every GRPO advantage would be
zero. A few hundred steps on (chat prompt, one correct solution form chosen at random, eos)
teach the format and some arithmetic; sampling at temperature 1.0 is then right on easy
problems, sometimes right on harder ones, and uses several solution forms. `measure`
reports exactly that: accuracy, the share of all-correct / mixed / all-wrong groups, and how
many distinct correct forms the model writes.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .settings import WarmStartConfig
from .task import (
    TWO_OPERATION_KINDS,
    ArithProblem,
    answer,
    classify_form,
    is_correct,
    is_mistake,
    mistake_forms,
    prompt_text,
    solution_forms,
)
from .tokenizer import EOS_TOKEN, PAD_TOKEN, token_id


def sft_target_texts(problem: ArithProblem, bare_two_op: bool) -> list[str]:
    """The correct texts a problem is taught with: every listed form, less the bare answer if asked."""
    forms = solution_forms(problem)
    if not bare_two_op and problem.kind in TWO_OPERATION_KINDS:
        forms = forms[:-1]  # the last listed form is the bare answer
    return forms


def prompt_ids(tokenizer: PreTrainedTokenizerBase, problem: ArithProblem) -> list[int]:
    """Token ids of the chat prompt with the assistant turn opened, as verl's rollout builds it."""
    messages = [{"role": "user", "content": prompt_text(problem)}]
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    ids: Any = out["input_ids"] if isinstance(out, Mapping) else out  # transformers 5 returns a BatchEncoding
    if ids and isinstance(ids[0], list):
        ids = ids[0]
    return [int(i) for i in ids]


def sft_batch(
    examples: Sequence[tuple[list[int], list[int]]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded (input_ids, attention_mask, labels) for (prompt, response) id pairs.

    Labels are -100 on the prompt and the padding, so the loss covers the response (with its
    eos) only.
    """
    length = max(len(p) + len(r) for p, r in examples)
    input_ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), length), dtype=torch.long)
    labels = torch.full((len(examples), length), -100, dtype=torch.long)
    for i, (p, r) in enumerate(examples):
        seq = torch.tensor(p + r, dtype=torch.long)
        input_ids[i, : len(seq)] = seq
        attention_mask[i, : len(seq)] = 1
        labels[i, len(p) : len(seq)] = torch.tensor(r, dtype=torch.long)
    return input_ids, attention_mask, labels


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay from 1 to 0.1 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def warm_start(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    problems: Sequence[ArithProblem],
    config: WarmStartConfig,
    seed: int,
    progress: bool = False,
) -> list[float]:
    """Fine-tune `model` in place on `problems`; returns the loss of every step.

    Each example is the chat prompt plus one of `solution_forms(problem)` chosen uniformly at
    random, followed by `<|im_end|>`.
    """
    if config.steps < 0 or config.batch_size <= 0:
        raise ValueError(f"need steps >= 0 and batch_size > 0, got {config}")
    if not problems:
        raise ValueError("warm_start needs at least one training problem")
    rng = random.Random(seed)
    eos_id = token_id(tokenizer, EOS_TOKEN)
    pad_id = token_id(tokenizer, PAD_TOKEN)
    unique = sorted(set(problems), key=lambda p: (p.kind, p.operands))
    prompts = {p: prompt_ids(tokenizer, p) for p in unique}

    def encode(texts: list[str]) -> list[list[int]]:
        return [tokenizer.encode(t, add_special_tokens=False) + [eos_id] for t in texts]

    forms = {p: encode(sft_target_texts(p, config.bare_two_op)) for p in unique}
    mistakes = {p: encode(mistake_forms(p)) for p in unique} if config.mistake_rate > 0 else {}
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.98))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, config.steps, max(1, config.warmup_steps))
    )
    model.train()
    losses: list[float] = []
    bar = tqdm(range(config.steps), desc="warm start", disable=not progress, leave=False, mininterval=1.0)
    for _ in bar:
        chosen = [problems[rng.randrange(len(problems))] for _ in range(config.batch_size)]
        batch = [(prompts[p], _target(rng, forms[p], mistakes.get(p), config.mistake_rate)) for p in chosen]
        input_ids, attention_mask, labels = sft_batch(batch, pad_id)
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)  # the bar redraws every mininterval, not per step
    model.eval()
    return losses


def _target(rng: random.Random, correct: list[list[int]], wrong: list[list[int]] | None, rate: float) -> list[int]:
    """One target: a mistake text with probability `rate` where the problem has one, else a correct form."""
    if wrong and rng.random() < rate:
        return rng.choice(wrong)
    return rng.choice(correct)


@torch.no_grad()
def sample_completions(
    model: PreTrainedModel,
    prompts: Sequence[list[int]],
    max_new_tokens: int,
    temperature: float,
    eos_id: int,
    pad_id: int,
    generator: torch.Generator,
) -> list[list[int]]:
    """Plain temperature sampling (no top-k/top-p), batched with left padding and a KV cache.

    Returns each completion's ids up to and including its eos (or `max_new_tokens` ids).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 for sampling, got {temperature}")
    batch, width = len(prompts), max(len(p) for p in prompts)
    input_ids = torch.full((batch, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((batch, width), dtype=torch.long)
    for i, p in enumerate(prompts):
        input_ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
        attention_mask[i, width - len(p) :] = 1
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=True)
    past, logits = out.past_key_values, out.logits[:, -1]
    next_pos = position_ids[:, -1:] + 1
    finished = torch.zeros(batch, dtype=torch.bool)
    steps: list[torch.Tensor] = []
    for _ in range(max_new_tokens):
        probs = torch.softmax(logits.float() / temperature, dim=-1)
        token = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        token = torch.where(finished, torch.full_like(token, pad_id), token)
        steps.append(token)
        finished |= token == eos_id
        if bool(finished.all()):
            break
        attention_mask = torch.cat([attention_mask, torch.ones((batch, 1), dtype=torch.long)], dim=-1)
        out = model(
            input_ids=token[:, None],
            attention_mask=attention_mask,
            position_ids=next_pos,
            past_key_values=past,
            use_cache=True,
        )
        past, logits = out.past_key_values, out.logits[:, -1]
        next_pos = next_pos + 1
    generated = torch.stack(steps, dim=1).tolist() if steps else [[] for _ in range(batch)]
    completions = []
    for row in generated:
        cut = row.index(eos_id) + 1 if eos_id in row else len(row)
        completions.append(row[:cut])
    return completions


@dataclass(frozen=True)
class GroupStats:
    """Outcome of G samples per prompt: accuracy and the share of each group type."""

    accuracy: float
    all_correct: float
    mixed: float
    all_wrong: float
    n_groups: int
    group_size: int


def group_stats(correct: Sequence[Sequence[bool]]) -> GroupStats:
    """Accuracy over all samples and the fractions of all-correct / mixed / all-wrong groups."""
    if not correct or any(len(g) != len(correct[0]) or not g for g in correct):
        raise ValueError("correct must be a non-empty list of equally sized, non-empty groups")
    n, size = len(correct), len(correct[0])
    hits = [sum(bool(x) for x in g) for g in correct]
    return GroupStats(
        accuracy=sum(hits) / (n * size),
        all_correct=sum(h == size for h in hits) / n,
        mixed=sum(0 < h < size for h in hits) / n,
        all_wrong=sum(h == 0 for h in hits) / n,
        n_groups=n,
        group_size=size,
    )


def measure(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    problems: Sequence[ArithProblem],
    n_samples: int,
    max_new_tokens: int = 48,
    temperature: float = 1.0,
    seed: int = 0,
) -> dict:
    """Sample `n_samples` completions per problem and summarise correctness and form diversity.

    Returns a JSON-ready dict: the `GroupStats` fields; `accuracy_by_kind`; `forms_per_group`
    (mean number of distinct known correct forms in groups with a correct sample);
    `mistake_share_by_kind` (share of samples ending in the systematic mistake's value, for the
    kinds that have one); `texts_per_group` (mean number of distinct correct texts, listed forms or not, in the same
    groups); `forms_used` (form index -> count of correct samples written exactly in that form);
    `correct_other` (correct samples matching no listed form); `examples` (a few decoded
    completions).
    """
    eos_id = token_id(tokenizer, EOS_TOKEN)
    pad_id = token_id(tokenizer, PAD_TOKEN)
    generator = torch.Generator().manual_seed(seed)
    flat_prompts = [prompt_ids(tokenizer, p) for p in problems for _ in range(n_samples)]
    model.eval()
    completions = sample_completions(model, flat_prompts, max_new_tokens, temperature, eos_id, pad_id, generator)
    texts = tokenizer.batch_decode(completions, skip_special_tokens=True)
    correct: list[list[bool]] = []
    forms_used: Counter[int] = Counter()
    forms_per_group: list[int] = []
    texts_per_group: list[int] = []
    by_kind: dict[str, list[bool]] = {}
    mistaken: dict[str, list[bool]] = {}
    other = 0
    for g, problem in enumerate(problems):
        group = texts[g * n_samples : (g + 1) * n_samples]
        flags = [is_correct(t, str(answer(problem))) for t in group]
        correct.append(flags)
        by_kind.setdefault(problem.kind, []).extend(flags)
        if mistake_forms(problem):
            mistaken.setdefault(problem.kind, []).extend(is_mistake(problem, t) for t in group)
        kinds = set()
        for text, ok in zip(group, flags, strict=True):
            if not ok:
                continue
            form = classify_form(problem, text)
            if form is None:
                other += 1
            else:
                forms_used[form] += 1
                kinds.add(form)
        if any(flags):
            forms_per_group.append(len(kinds))
            texts_per_group.append(len({t for t, ok in zip(group, flags, strict=True) if ok}))
    stats = group_stats(correct)
    return {
        **asdict(stats),
        "accuracy_by_kind": {k: sum(v) / len(v) for k, v in sorted(by_kind.items())},
        "mistake_share_by_kind": {k: sum(v) / len(v) for k, v in sorted(mistaken.items())},
        "forms_per_group": sum(forms_per_group) / len(forms_per_group) if forms_per_group else 0.0,
        "texts_per_group": sum(texts_per_group) / len(texts_per_group) if texts_per_group else 0.0,
        "forms_used": {str(k): v for k, v in sorted(forms_used.items())},
        "correct_other": other,
        "examples": texts[: min(len(texts), 4)],
    }
