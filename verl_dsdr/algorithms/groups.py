"""Group bookkeeping shared by the diversity and advantage math.

verl tags each rollout with the ``uid`` of its prompt; rollouts with the same uid form a group
(Eq. 1-3: the G responses ``o_1..o_G`` to one prompt). Group-level math is vectorised by
scattering the flat batch ``[B, ...]`` into a padded ``[n_groups, G_max, ...]`` layout, doing one
batched tensor operation, and gathering back. Group ids are dense and follow the order of first
appearance, so results are deterministic whatever the uid type.

This module also holds the input conversion every public function uses (torch tensors, numpy
arrays or Python sequences in; torch tensors out, on the input's device).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "GroupLayout",
    "group_ids",
    "group_layout",
    "to_padded",
    "from_padded",
    "sample_group_sizes",
    "to_float_tensor",
    "to_bool_tensor",
    "check_batch",
    "sequence_of",
    "device_of",
]

Index = Any  # numpy array (object/str/int), list/tuple of hashables, 1-D torch tensor, or GroupLayout


def _uid_list(index: Index) -> list:
    """Return the uids as a flat Python list, rejecting shapes that cannot be a uid sequence."""
    if isinstance(index, torch.Tensor):
        if index.dim() != 1:
            raise ValueError(f"index must be 1-D (one uid per sample), got shape {tuple(index.shape)}")
        return index.tolist()
    if isinstance(index, np.ndarray):
        if index.ndim != 1:
            raise ValueError(f"index must be 1-D (one uid per sample), got shape {index.shape}")
        return index.tolist()
    if isinstance(index, (str, bytes)):
        raise TypeError("index must be a sequence of uids, not a single string; wrap it in a list")
    return list(index)


def group_ids(index: Index) -> tuple[torch.Tensor, int]:
    """Dense group id per sample (order of first appearance) and the number of groups.

    uids are compared with Python equality/hash, so ``"a"``/``np.str_("a")`` and ``1``/``np.int64(1)``
    name the same group while ``1`` and ``"1"`` do not. Mixed uid types are allowed.
    Returns a CPU ``int64`` tensor ``[B]``.

    Args:
        index: ``[B]`` uids, or a ``GroupLayout``.

    Returns:
        (int64 ``[B]`` dense group ids on the CPU, number of groups).
    """
    if isinstance(index, GroupLayout):
        return index.ids.cpu(), index.n_groups
    uids = _uid_list(index)
    mapping: dict = {}
    try:
        dense = [mapping.setdefault(u, len(mapping)) for u in uids]
    except TypeError as err:
        raise TypeError(f"every uid must be hashable (str or int as verl passes them): {err}") from err
    return torch.tensor(dense, dtype=torch.long), len(mapping)


@dataclass(frozen=True)
class GroupLayout:
    """Where every sample sits in the padded ``[n_groups, max_size]`` layout.

    ``ids[b]`` is sample b's group, ``slots[b]`` its position inside the group (batch order is kept
    within a group), ``sizes[g]`` the group's size and ``valid[g, s]`` whether slot s is a sample.
    """

    ids: torch.Tensor
    slots: torch.Tensor
    sizes: torch.Tensor
    n_groups: int
    max_size: int

    @property
    def device(self) -> torch.device:
        return self.ids.device

    @property
    def batch_size(self) -> int:
        return int(self.ids.numel())

    @property
    def valid(self) -> torch.Tensor:
        arange = torch.arange(self.max_size, device=self.device)
        return arange[None, :] < self.sizes[:, None]

    def to(self, device: torch.device | str) -> GroupLayout:
        device = torch.device(device)
        if device == self.device:
            return self
        return GroupLayout(
            self.ids.to(device), self.slots.to(device), self.sizes.to(device), self.n_groups, self.max_size
        )


def group_layout(index: Index, device: torch.device | str | None = None) -> GroupLayout:
    """Build (or move) the padded layout for ``index``; computed on CPU, then moved once.

    Args:
        index: ``[B]`` uids, or a ``GroupLayout`` (returned, moved if ``device`` is given).
        device: where the layout's tensors go.

    Returns:
        ``GroupLayout`` with ``ids`` ``[B]``, ``slots`` ``[B]``, ``sizes`` ``[n_groups]``.
    """
    if isinstance(index, GroupLayout):
        return index if device is None else index.to(device)
    ids, n_groups = group_ids(index)
    sizes = torch.bincount(ids, minlength=n_groups)
    order = torch.argsort(ids, stable=True)
    starts = torch.cumsum(sizes, 0) - sizes
    slots = torch.empty_like(ids)
    slots[order] = torch.arange(ids.numel()) - starts[ids[order]]
    max_size = int(sizes.max()) if n_groups > 0 else 0
    layout = GroupLayout(ids, slots, sizes, n_groups, max_size)
    return layout if device is None else layout.to(device)


def to_padded(values: torch.Tensor, layout: GroupLayout, fill: float | bool = 0) -> torch.Tensor:
    """Scatter ``values [B, ...]`` to ``[n_groups, max_size, ...]``; empty slots hold ``fill``.

    Args:
        values: ``[B, ...]``.
        layout: the batch's ``GroupLayout``.
        fill: value of the empty slots.

    Returns:
        ``[n_groups, max_size, ...]``.
    """
    if values.shape[0] != layout.batch_size:
        raise ValueError(f"values has {values.shape[0]} rows but index has {layout.batch_size} samples")
    out = values.new_full((layout.n_groups, layout.max_size, *values.shape[1:]), fill)
    return out.index_put((layout.ids, layout.slots), values)


def from_padded(padded: torch.Tensor, layout: GroupLayout) -> torch.Tensor:
    """Gather ``[n_groups, max_size, ...]`` back to the flat batch order ``[B, ...]``.

    Args:
        padded: ``[n_groups, max_size, ...]``.
        layout: the batch's ``GroupLayout``.

    Returns:
        ``[B, ...]``.
    """
    return padded[layout.ids, layout.slots]


def sample_group_sizes(layout: GroupLayout) -> torch.Tensor:
    """Size of each sample's group, ``int64 [B]`` (G_i in spec section 6).

    Args:
        layout: the batch's ``GroupLayout``.

    Returns:
        int64 ``[B]``.
    """
    return layout.sizes[layout.ids]


def device_of(*candidates: Any) -> torch.device | None:
    """Device of the first tensor (or layout) among ``candidates``; None if there is none.

    Args:
        candidates: anything; tensors and layouts are looked at.

    Returns:
        the first one's device, or None.
    """
    for c in candidates:
        if isinstance(c, torch.Tensor):
            return c.device
        if isinstance(c, GroupLayout):
            return c.device
    return None


def to_float_tensor(x: Any, name: str, device: torch.device | None = None) -> torch.Tensor:
    """``x`` as a float32 tensor (kept differentiable, kept on its device unless ``device`` is given).

    Args:
        x: a tensor, numpy array or (nested) list of numbers, any shape.
        name: the argument's name, for error messages.
        device: where the result goes (default: where ``x`` is).

    Returns:
        float32 tensor, ``x``'s shape (e.g. ``[B]``).
    """
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(np.asarray(x, dtype=np.float32))
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be numeric (torch tensor, numpy array or list): {err}") from err
    if t.dtype.is_complex:
        raise TypeError(f"{name} must be real-valued, got {t.dtype}")
    t = t.to(dtype=torch.float32)
    return t if device is None else t.to(device)


def to_bool_tensor(x: Any, name: str, device: torch.device | None = None) -> torch.Tensor:
    """``x`` as a bool tensor; numeric input must hold only 0 and 1 (pass ``scores > t`` otherwise).

    Args:
        x: a bool or 0/1 tensor, numpy array or list, any shape.
        name: the argument's name, for error messages.
        device: where the result goes (default: where ``x`` is).

    Returns:
        bool tensor, ``x``'s shape (e.g. ``[B]``).
    """
    if isinstance(x, torch.Tensor):
        t = x
    else:
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a boolean mask (or 0/1 numbers), got numpy dtype {arr.dtype}")
        t = torch.as_tensor(arr)
    if t.dtype != torch.bool:
        if not t.dtype.is_complex:
            if t.numel() and not bool(((t == 0) | (t == 1)).all()):
                raise ValueError(
                    f"{name} must be boolean or 0/1; got other values. Pass an explicit mask, e.g. scores > threshold."
                )
            t = t != 0
        else:
            raise TypeError(f"{name} must be a boolean mask, got dtype {t.dtype}")
    return t if device is None else t.to(device)


def check_batch(t: torch.Tensor, batch: int, name: str, ndim: int = 1) -> None:
    """Raise a clear error unless ``t`` has ``ndim`` dims and ``batch`` rows.

    Args:
        t: the tensor to check.
        batch: expected rows ``B``.
        name: the argument's name, for the error message.
        ndim: expected number of dimensions.

    Returns:
        None; raises ValueError otherwise.
    """
    if t.dim() != ndim or t.shape[0] != batch:
        want = "[B]" if ndim == 1 else "[B, " + ", ".join("..." for _ in range(ndim - 1)) + "]"
        raise ValueError(f"{name} must have shape {want} with B={batch} (one row per sample), got {tuple(t.shape)}")


def sequence_of(x: Sequence | Any) -> list:
    """Materialise a per-sample sequence (list, tuple, numpy object array, ...) as a list.

    Args:
        x: ``B`` per-sample items (list, tuple, numpy array, ...).

    Returns:
        a list of ``B`` items (``[B]``).
    """
    if isinstance(x, np.ndarray):
        return list(x) if x.dtype == object else x.tolist()
    return list(x)
