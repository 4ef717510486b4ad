"""The CPU backend's shape and isolation: two ranks, two runs side by side (the `side_by_side` fixture in
conftest.py), nothing reachable from the network."""

import ipaddress

import pytest

from verl_dsdr.launch import own_processes

pytestmark = pytest.mark.integration


def test_dsdr_trains_on_two_ranks_with_one_override(side_by_side, learn_steps):
    run = side_by_side["two_ranks"]
    assert run.returncode == 0, run.tail()
    assert run.run_info["worker_platforms"] == ["cpu", "cpu"], "expected one trainer worker per rank"
    assert len(run.series("actor/grad_norm")) == learn_steps
    assert len(run.series("dsdr/local_term")) == learn_steps


def test_two_runs_side_by_side_both_finish_and_clean_up_only_themselves(side_by_side, learn_steps):
    first, second = side_by_side["two_ranks"], side_by_side["second"]
    assert second.returncode == 0, second.tail()
    assert len(second.series("actor/grad_norm")) == learn_steps
    assert first.ray_dir != second.ray_dir
    for run in (first, second):
        assert own_processes(run.token, run.ray_dir) == []


def _reachable_from_another_machine(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_loopback


def test_every_listening_socket_is_on_loopback(side_by_side):
    for name, run in side_by_side.items():
        assert run.listening, f"{name}: no listening socket was sampled (Ray always listens)"
        exposed = [s for s in run.listening if _reachable_from_another_machine(s[0])]
        assert not exposed, f"{name} listened where another machine can reach it: {exposed}"


def test_memory_of_the_run_is_recorded_by_kind(side_by_side):
    run = side_by_side["second"]
    memory = (run.run_dir / "memory.json").read_text()
    for kind in ("TaskRunner", "WorkerDict", "RewardLoopWorker", "driver (main_ppo)", "ray: raylet"):
        assert f'"{kind}"' in memory, kind
    # One trainer rank of the tiny model; 5 GB leaves room over the measured ~4 GB (docs/CPU_BACKEND.md).
    assert 0.5 < run.peak_rss_gb < 5.0


def test_a_shape_that_cannot_fit_is_refused_before_ray_starts(train):
    run = train("dsdr", 2, "trainer.n_gpus_per_node=2", "ray_kwargs.ray_init.num_cpus=4")
    assert run.returncode != 0
    assert "ray_kwargs.ray_init.num_cpus=4 is too small" in run.log
    assert "ray init kwargs" not in run.log and not run.listening  # Ray never started
