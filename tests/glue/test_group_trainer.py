"""The group trainer around verl's own ``_compute_advantage``, with TransferQueue replaced by a store in memory.

No Ray: the trainer object is built without ``__init__`` and verl's real advantage step runs
on it, so what is checked is what verl reads and writes: per-sample fields put before verl's
put reach the actor's metadata, in sample order; the estimator gets the group step's inputs.
"""

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
import transfer_queue
from tensordict import NonTensorData, NonTensorStack, TensorDict

from verl_dsdr.glue.group_trainer import (
    GroupPPOTrainerColocateAsync,
    GroupPPOTrainerSeparateAsync,
    GroupPPOTrainerSync,
    GroupTrainerMixin,
    trainer_class_for,
)
from verl_dsdr.methods import method, wire
from verl_dsdr.methods.dsdr import COEF, DSDRConfig, dsdr_stats
from verl_dsdr.methods.wire import EMBEDDING, FORMULAS
from verl_dsdr.registration import register_all

register_all()


@dataclass
class Meta:
    """The parts of transfer_queue.KVBatchMeta the trainer reads."""

    keys: list
    partition_id: str
    tags: list
    fields: list = field(default_factory=list)

    def __len__(self):
        return len(self.keys)


class Store:
    """kv_batch_get / kv_batch_put over a dict of rows; puts return metadata listing every field stored so far."""

    def __init__(self, rows: dict):
        self.rows = rows
        self.fields = sorted({f for row in rows.values() for f in row})

    def get(self, keys, partition_id, select_fields):
        out = {}
        for name in select_fields:
            if name not in self.rows[keys[0]]:
                continue
            values = [self.rows[k][name] for k in keys]
            if isinstance(values[0], torch.Tensor):
                out[name] = (
                    torch.stack(values)
                    if values[0].dim() == 0
                    else torch.nested.as_nested_tensor(values, layout=torch.jagged)
                )
            else:
                out[name] = NonTensorStack(*[NonTensorData(v) for v in values])
        return TensorDict(out, batch_size=len(keys))

    def put(self, keys, partition_id, fields):
        for name in fields.keys():  # noqa: SIM118 (iterating a TensorDict walks its batch, not its keys)
            values = fields[name]
            rows = values.unbind(0) if values.is_nested else list(values)
            for key, value in zip(keys, rows):
                self.rows[key][name] = value
        self.fields = sorted(set(self.fields) | set(fields.keys()))
        return Meta(list(keys), partition_id, [{} for _ in keys], list(self.fields))


def _fields(formulas, emb):
    return {FORMULAS: sorted(formulas), EMBEDDING: [float(v) for v in emb]}


def _batch(seed=0, groups=3, n=4, padding=1):
    """Rows as the reward loop leaves them: rm_scores at the last token, extras from the dsdr manager."""
    gen = torch.Generator().manual_seed(seed)
    rows, keys, tags = {}, [], []
    for g in range(groups):
        for i in range(n):
            length = int(torch.randint(2, 6, (1,), generator=gen))
            # the first row, which verl's padding row copies, is correct: a padding row taken for a real
            # one would then get a coupling weight and count as a group
            correct = bool(torch.rand(1, generator=gen) < 0.6) or (g == 0 and i == 0)
            emb = torch.randn(8, generator=gen)
            score = torch.zeros(length)
            score[-1] = float(correct)
            formulas = {f"x={int(torch.randint(0, 4, (1,), generator=gen))}"}
            key = f"uid{g}_0_{i}"
            rows[key] = {
                "uid": f"uid{g}",
                "response_mask": torch.ones(length, dtype=torch.long),
                "rm_scores": score,
                "old_log_probs": -torch.rand(length, generator=gen) - 0.1,
                "extra_fields": {
                    "reward_extra_info": wire.encode_extras(correct, _fields(formulas, emb / emb.norm()), 0.01)
                },
            }
            keys.append(key)
            tags.append({})
    for p in range(padding):  # verl's padding row: a copy of the first real row under a shared "pad" uid
        key = f"pad_0_{p}"
        rows[key] = dict(rows[keys[0]], uid="pad")
        keys.append(key)
        tags.append({"is_padding": True})
    return rows, Meta(keys, "train", tags)


def _trainer(compose_config, cls=GroupPPOTrainerSync, *overrides):
    trainer = cls.__new__(cls)  # verl's __init__ starts workers; the advantage step needs only the config
    trainer.config = compose_config("algorithm.adv_estimator=dsdr", "actor_rollout_ref.rollout.n=4", *overrides)
    return trainer


@pytest.fixture
def store(monkeypatch):
    rows, meta = _batch()
    s = Store(rows)
    monkeypatch.setattr(transfer_queue, "kv_batch_get", s.get)
    monkeypatch.setattr(transfer_queue, "kv_batch_put", s.put)
    return s, meta


def _expected(store, meta, settings):
    rows = [store.rows[k] for k in meta.keys]
    padding = [t.get("is_padding", False) for t in meta.tags]
    fields = method("dsdr").reward_fields(settings)
    inputs = wire.decode_batch([r["extra_fields"] for r in rows], [r["uid"] for r in rows], padding, fields)
    return inputs, dsdr_stats(inputs, settings)


def test_dsdr_coef_reaches_the_actor_in_sample_order(compose_config, store):
    s, meta = store
    trainer = _trainer(compose_config)
    metrics = {}
    out = trainer._compute_advantage(meta, metrics)
    # verl's last put (advantages) returned metadata that lists dsdr_coef: it was put before.
    assert COEF in out.fields and "advantages" in out.fields
    inputs, stats = _expected(s, meta, DSDRConfig())
    coef = torch.stack([s.rows[k][COEF] for k in meta.keys])
    assert coef.abs().sum() > 0 and len(set(coef.tolist())) > 2
    torch.testing.assert_close(coef, stats.coef)
    assert coef[-1] == 0  # the padding row
    assert "dsdr_correct" not in out.fields  # nothing is written that nobody reads


def test_advantages_are_the_dsdr_estimator_on_the_group_step_inputs(compose_config, store):
    from verl.trainer.ppo.core_algos import get_adv_estimator_fn

    s, meta = store
    trainer = _trainer(compose_config, GroupPPOTrainerSync, "algorithm.dsdr.lambda_d=0.5")
    trainer._compute_advantage(meta, {})
    inputs, stats = _expected(s, meta, DSDRConfig(lambda_d=0.5))
    rows = [s.rows[k] for k in meta.keys]
    mask = torch.nn.utils.rnn.pad_sequence([r["response_mask"] for r in rows], batch_first=True).float()
    rewards = torch.nn.utils.rnn.pad_sequence([r["rm_scores"] for r in rows], batch_first=True)
    uids = np.array([r["uid"] for r in rows], dtype=object)
    expected, _ = get_adv_estimator_fn("dsdr")(
        token_level_rewards=rewards,
        response_mask=mask,
        index=uids,
        config=trainer.config.algorithm,
        dsdr_correct=inputs.correct,
        dsdr_diversity=stats.diversity,
    )
    got = torch.nn.utils.rnn.pad_sequence([s.rows[k]["advantages"] for k in meta.keys], batch_first=True)
    torch.testing.assert_close(got, expected * mask)
    grpo, _ = get_adv_estimator_fn("grpo")(token_level_rewards=rewards, response_mask=mask, index=uids)
    assert not torch.allclose(got, grpo)  # lambda_d = 0.5 moves the advantages off GRPO's


def test_metrics_are_logged_once(compose_config, store):
    s, meta = store
    metrics = {}
    _trainer(compose_config)._compute_advantage(meta, metrics)
    inputs, _ = _expected(s, meta, DSDRConfig())
    groups = {}
    for uid, c, r in zip(inputs.index, inputs.correct.tolist(), inputs.real.tolist()):
        if r:
            groups.setdefault(uid, []).append(c)
    mixed = sum(any(v) and not all(v) for v in groups.values()) / len(groups)
    assert metrics["groups/frac_mixed"] == pytest.approx(mixed)
    assert not [k for k in metrics if k.startswith("dsdr/frac")]
    assert "dsdr/d_mean" in metrics and "dsdr/entropy_correct" in metrics


def test_grpo_runs_verls_step_with_group_outcomes_only(compose_config, store):
    s, meta = store
    trainer = _trainer(compose_config, GroupPPOTrainerSync, "algorithm.adv_estimator=grpo")
    metrics = {}
    out = trainer._compute_advantage(meta, metrics)
    assert COEF not in out.fields and "advantages" in out.fields
    assert set(metrics) == {"groups/frac_all_correct", "groups/frac_all_wrong", "groups/frac_mixed"}


class _FakeValidation:
    """Stands in for verl's PPOTrainer._validate: iterates self.val_dataloader like trainer_base.py:1048."""

    def _validate(self):
        return [dict(batch) for batch in self.val_dataloader]


class _ValidatingTrainer(GroupTrainerMixin, _FakeValidation):
    pass


def test_validation_prompts_are_flagged_and_the_loader_restored():
    loader = [{"raw_prompt": ["a", "b"]}, {"raw_prompt": ["c"]}]
    trainer = _ValidatingTrainer()
    trainer.val_dataloader = loader
    batches = trainer._validate()
    assert [b[wire.VALIDATE].tolist() for b in batches] == [[True, True], [True]]
    assert trainer.val_dataloader is loader


@pytest.mark.parametrize(
    "mode, cls",
    [
        ("sync", GroupPPOTrainerSync),
        ("colocate_async", GroupPPOTrainerColocateAsync),
        ("separate_async", GroupPPOTrainerSeparateAsync),
    ],
)
def test_the_group_trainer_sits_on_the_class_verl_picks_for_each_mode(compose_config, mode, cls):
    from verl.trainer.ppo.v1 import get_trainer_cls

    config = compose_config(f"trainer.v1.trainer_mode={mode}")
    chosen = trainer_class_for(config)
    assert chosen is cls and issubclass(chosen, get_trainer_cls(mode))
