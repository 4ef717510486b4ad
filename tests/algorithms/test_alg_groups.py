"""Group bookkeeping: dense ids, padded layout, uid types."""

import numpy as np
import pytest
import torch

from verl_dsdr.algorithms import from_padded, group_ids, group_layout, group_sizes, sample_group_sizes, to_padded


def test_group_ids_follow_first_appearance():
    ids, n = group_ids(np.array(["b", "a", "b", "c", "a"], dtype=object))
    # "b" seen first -> 0, "a" -> 1, "c" -> 2
    assert ids.tolist() == [0, 1, 0, 2, 1]
    assert n == 3
    assert ids.dtype == torch.long


def test_mixed_uid_types():
    # 7 and np.int64(7) hash equal (one group); "7" and np.str_("7") form another; 7 != "7".
    index = [7, "7", np.int64(7), np.str_("7"), "x"]
    ids, n = group_ids(index)
    assert ids.tolist() == [0, 1, 0, 1, 2]
    assert n == 3
    assert group_ids(torch.tensor([5, 5, 9]))[0].tolist() == [0, 0, 1]
    assert group_ids(np.array([3, 1, 3]))[0].tolist() == [0, 1, 0]


def test_bad_index_is_rejected_with_a_hint():
    with pytest.raises(TypeError, match="hashable"):
        group_ids([["a"], ["b"]])
    with pytest.raises(TypeError, match="not a single string"):
        group_ids("abc")
    with pytest.raises(ValueError, match="1-D"):
        group_ids(np.zeros((2, 2)))


def test_layout_slots_sizes_and_round_trip():
    layout = group_layout(["b", "a", "b", "c", "a"])
    # groups b=[0,2], a=[1,4], c=[3] -> slot = position inside the group in batch order
    assert layout.slots.tolist() == [0, 0, 1, 0, 1]
    assert layout.sizes.tolist() == [2, 2, 1]
    assert layout.max_size == 2
    assert layout.valid.tolist() == [[True, True], [True, True], [True, False]]
    values = torch.tensor([10.0, 20.0, 30.0, 40.0, 50.0])
    padded = to_padded(values, layout, fill=-1.0)
    assert padded.tolist() == [[10.0, 30.0], [20.0, 50.0], [40.0, -1.0]]
    assert torch.equal(from_padded(padded, layout), values)
    assert sample_group_sizes(layout).tolist() == [2, 2, 2, 1, 2]
    assert group_sizes(["b", "a", "b", "c", "a"]).tolist() == [2, 2, 2, 1, 2]


def test_layout_is_reused_and_empty_batch_works():
    layout = group_layout(["u", "u"])
    assert group_layout(layout) is layout
    empty = group_layout([])
    assert empty.n_groups == 0 and empty.max_size == 0 and empty.batch_size == 0


def test_to_padded_checks_the_batch_size():
    with pytest.raises(ValueError, match="3 rows but index has 2"):
        to_padded(torch.zeros(3), group_layout(["a", "b"]))
