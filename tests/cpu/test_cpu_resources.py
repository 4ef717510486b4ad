"""Ray's logical resources follow a CPU run's shape; each run gets its own loopback-only, token-protected Ray."""

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from verl_dsdr.cpu.local_ray import LOOPBACK_ENV, TMP_SUBDIR, TOKEN_FILE, prepare_local_ray
from verl_dsdr.cpu.resources import (
    CPU_PER_RANK,
    SCHEDULING_SLACK,
    TQ_DEFAULT_THREADS,
    ResourceError,
    fit_cpu_resources,
    plan_cpu_resources,
    transfer_queue_threads,
    worker_environment,
)


@pytest.fixture(autouse=True)
def _own_tmpdir(monkeypatch):
    """prepare_local_ray points this process's TMPDIR at the run's folder; the suite's is put back after."""
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)


def _config(nnodes=1, per_node=1, units=1, num_cpus=None, num_gpus=None, mode="sync", address=None, temp_dir=None):
    ray_init = {"num_cpus": num_cpus, "num_gpus": num_gpus}
    if address:
        ray_init["address"] = address
    if temp_dir:
        ray_init["_temp_dir"] = temp_dir
    return OmegaConf.create(
        {
            "trainer": {"nnodes": nnodes, "n_gpus_per_node": per_node, "v1": {"trainer_mode": mode}},
            "actor_rollout_ref": {"rollout": {"tensor_model_parallel_size": 1, "nnodes": 0, "n_gpus_per_node": 1}},
            "transfer_queue": {"backend": {"SimpleStorage": {"num_data_storage_units": units}}},
            "ray_kwargs": {"ray_init": ray_init},
        }
    )


@pytest.mark.parametrize("ranks", [1, 2, 4])
def test_plan_counts_every_actor_that_holds_a_cpu(ranks):
    plan = plan_cpu_resources(_config(per_node=ranks, units=1))
    # per rank: 3-CPU bundle and one rollout server of 1 CPU; plus one storage unit, the controller and the slack
    assert plan.gpus == ranks
    assert plan.cpus == CPU_PER_RANK * ranks + 1 + 1 + ranks + SCHEDULING_SLACK
    assert plan_cpu_resources(_config(nnodes=2, per_node=ranks)).gpus == 2 * ranks


def test_two_ranks_with_verls_eight_storage_units_need_more_than_the_old_fixed_sixteen():
    """The shape that hung silently with a fixed `num_cpus: 16` (2 x 3 + 8 + 1 + 2 servers = 17, plus slack)."""
    assert plan_cpu_resources(_config(per_node=2, units=8)).cpus == 2 * 3 + 8 + 1 + 2 + SCHEDULING_SLACK > 16


def test_null_counts_are_filled_from_the_shape():
    config = _config(per_node=2)
    plan = fit_cpu_resources(config)
    assert config.ray_kwargs.ray_init.num_cpus == plan.cpus and config.ray_kwargs.ray_init.num_gpus == 2


def test_a_count_set_by_hand_that_is_too_small_is_refused_naming_the_key():
    with pytest.raises(ResourceError) as error:
        fit_cpu_resources(_config(per_node=2, num_cpus=4))
    message = str(error.value)
    assert (
        "ray_kwargs.ray_init.num_cpus=4" in message
        and f"ray_kwargs.ray_init.num_cpus={plan_cpu_resources(_config(per_node=2)).cpus}" in message
    )
    with pytest.raises(ResourceError, match=r"ray_kwargs.ray_init.num_gpus=1 is too small.*needs 4"):
        fit_cpu_resources(_config(per_node=4, num_gpus=1))


def test_a_larger_count_set_by_hand_is_kept():
    config = _config(num_cpus=64, num_gpus=8)
    fit_cpu_resources(config)
    assert (config.ray_kwargs.ray_init.num_cpus, config.ray_kwargs.ray_init.num_gpus) == (64, 8)


def test_joining_a_cluster_leaves_ray_settings_alone():
    config = _config(per_node=2, address="127.0.0.1:6379")
    fit_cpu_resources(config)
    assert config.ray_kwargs.ray_init.num_cpus is None
    assert prepare_local_ray(config) is None


@pytest.mark.parametrize("bad", [0, -1])
def test_no_rank_is_refused(bad):
    with pytest.raises(ResourceError, match="trainer.n_gpus_per_node"):
        plan_cpu_resources(_config(per_node=bad))


def test_separate_async_counts_the_rollout_pool():
    config = _config(per_node=1, mode="separate_async")
    config.actor_rollout_ref.rollout.nnodes = 1
    config.actor_rollout_ref.rollout.n_gpus_per_node = 2
    assert plan_cpu_resources(config).gpus == 3


def test_each_run_gets_its_own_ray_folder_and_token(monkeypatch):
    for key in (LOOPBACK_ENV, "RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH", "RAY_enable_worker_prestart"):
        monkeypatch.delenv(key, raising=False)
    first, second = _config(), _config()
    a, b = prepare_local_ray(first), prepare_local_ray(second)
    try:
        assert a.owned and b.owned and a.folder != b.folder
        assert first.ray_kwargs.ray_init._temp_dir == a.folder
        token = Path(b.folder) / TOKEN_FILE
        assert os.environ["RAY_AUTH_TOKEN_PATH"] == str(token)  # the latest run's token, in its own folder
        assert stat.S_IMODE(token.stat().st_mode) == 0o600 and len(token.read_text()) == 64
        assert (Path(a.folder) / TOKEN_FILE).read_text() != token.read_text()
        assert os.environ["RAY_AUTH_MODE"] == "token" and os.environ[LOOPBACK_ENV] == "0"
        assert os.environ["RAY_enable_worker_prestart"] == "0"
        # every process of the run keeps its temporary files (verl's checkpoint locks, ...) in its folder
        assert os.environ["TMPDIR"] == str(Path(b.folder) / TMP_SUBDIR) == tempfile.gettempdir()
        assert first.ray_kwargs.ray_init.runtime_env.env_vars.TMPDIR == str(Path(a.folder) / TMP_SUBDIR)
        assert (Path(a.folder) / TMP_SUBDIR).is_dir()
    finally:
        for run in (a, b):
            shutil.rmtree(run.folder)


def test_a_given_ray_folder_is_used_and_not_owned(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    local = prepare_local_ray(_config(temp_dir=str(tmp_path)))
    assert local.folder == str(tmp_path) and not local.owned
    assert (tmp_path / TOKEN_FILE).exists()


def test_cpu_load_balancer_is_sticky_then_least_busy_and_counts_releases():
    from verl_dsdr.cpu.router import LoadBalancer

    lb = LoadBalancer({"a": "handle-a", "b": "handle-b"}, {"max_cache_size": 2})
    assert lb.acquire_server("r1") == ("a", "handle-a")  # both idle: the first
    assert lb.acquire_server("r2") == ("b", "handle-b")  # a is busy
    assert lb.acquire_server("r1") == ("a", "handle-a")  # sticky, though a is now the busier
    assert lb.get_status()["servers"] == {"a": 2, "b": 1} and lb.get_total_inflight() == 3
    lb.release_server("a")
    lb.release_server("a")
    lb.release_server("a")  # more releases than acquires never go below zero
    assert lb.get_inflight_count("a") == 0
    lb.acquire_server("r3")  # evicts the oldest sticky entry (r2) from a cache of 2
    assert lb.clear_sticky_cache() == {"cleared": 2}
    lb.remove_servers(["a"])
    assert lb.get_all_servers() == ["b"] and lb.acquire_server("r1") == ("b", "handle-b")
    lb.remove_servers(["b"])
    with pytest.raises(RuntimeError, match="No available servers"):
        lb.acquire_server("r4")


def test_cpu_load_balancer_module_imports_neither_verl_nor_torch():
    import subprocess
    import sys

    code = "import sys, verl_dsdr.cpu.router; print(any(m in sys.modules for m in ('verl', 'torch')))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_process_group_meets_through_a_file_in_the_runs_folder():
    from verl_dsdr.cpu.patches import file_store_init_method

    env = {"VERL_DSDR_DIST_STORE_DIR": "/tmp/vdsdr_ray_x", "MASTER_PORT": "29500"}
    assert file_store_init_method(env) == "file:///tmp/vdsdr_ray_x/torch_store_29500"  # one file per worker group
    assert file_store_init_method({**env, "DIST_INIT_METHOD": "tcp://10.0.0.1:1"}) is None  # the user's choice
    assert file_store_init_method({"MASTER_PORT": "29500"}) is None  # not a verl-dsdr CPU run: verl's default


def test_local_ray_routes_torch_and_gloo_to_its_folder_and_loopback(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    config = _config(temp_dir=str(tmp_path))
    prepare_local_ray(config)
    env_vars = config.ray_kwargs.ray_init.runtime_env.env_vars
    assert env_vars.VERL_DSDR_DIST_STORE_DIR == str(tmp_path)
    assert env_vars.GLOO_SOCKET_IFNAME in ("lo", "lo0")


def test_transfer_queue_threads_follow_the_cores_the_run_is_given(monkeypatch):
    import psutil

    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 2)
    assert transfer_queue_threads() == min(2, len(os.sched_getaffinity(0)))
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 64)
    assert transfer_queue_threads() == min(TQ_DEFAULT_THREADS, len(os.sched_getaffinity(0)))


def test_every_ray_process_gets_the_thread_count_and_the_inductor_cache(monkeypatch, tmp_path):
    from verl_dsdr.cpu import prepare_cpu_run

    monkeypatch.delenv("TQ_NUM_THREADS", raising=False)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    assert worker_environment() == {
        "TQ_NUM_THREADS": str(transfer_queue_threads()),
        "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor"),
    }
    config = _config(address="127.0.0.1:6379")  # joining a cluster: the workers still get both
    config.actor_rollout_ref.rollout.router_config_path = "set"
    with_user_value = OmegaConf.merge(
        config, {"ray_kwargs": {"ray_init": {"runtime_env": {"env_vars": {"TQ_NUM_THREADS": "3"}}}}}
    )
    prepare_cpu_run(config)
    prepare_cpu_run(with_user_value)
    env_vars = config.ray_kwargs.ray_init.runtime_env.env_vars
    assert env_vars.TQ_NUM_THREADS == str(transfer_queue_threads())
    assert env_vars.TORCHINDUCTOR_CACHE_DIR == str(tmp_path / "inductor")
    assert with_user_value.ray_kwargs.ray_init.runtime_env.env_vars.TQ_NUM_THREADS == "3"  # the config's value wins
