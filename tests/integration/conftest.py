"""Runs verl's real PPO trainer on CPU through `python -m verl_dsdr.main_ppo` (a subprocess per run)."""

import os
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from verl_dsdr.launch import RunResult, embedded_cpu_run, own_processes, read_metrics, run_training

SECOND_RUN_DELAY_S = 20


@pytest.fixture(scope="session")
def assets():
    from verl_dsdr.assets.build import build_assets

    return build_assets()


@pytest.fixture(scope="session")
def train(assets, tmp_path_factory):
    """`train(estimator, steps, *overrides)` -> RunResult of one real training run on CPU."""

    def _train(estimator: str, steps: int = 2, *overrides: str) -> RunResult:
        run = run_training(
            [*embedded_cpu_run(assets, estimator, steps), *overrides],
            tmp_path_factory.mktemp(f"run_{estimator}"),
        )
        assert not own_processes(run.token, run.ray_dir), "the run's processes were not all stopped"
        return run

    return _train


@pytest.fixture(scope="session")
def assert_local_term_subtracted():
    """verl logs the loss the actor back-propagated (``actor/loss``, summed over micro-batches) and its
    policy part (``actor/pg_loss``); with no KL loss and no entropy bonus they differ by exactly the local
    term the DSDR loss subtracted. Fails when the DSDR loss is not installed or drops the term."""

    def check(run: RunResult) -> None:
        loss, pg, local = run.series("actor/loss"), run.series("actor/pg_loss"), run.series("dsdr/local_term")
        assert len(loss) == len(pg) == len(local) > 0
        for total, policy, term in zip(loss, pg, local):
            assert term != 0
            assert total == pytest.approx(policy - term, rel=1e-4, abs=1e-7)

    return check


# The learning runs (test_pipeline_learns.py): a reward the warm start earns about a third of the time
# (``verl_dsdr.toy.learn_check``), 8 prompts x 8 rollouts, 4 updates per step, 10 steps.
LEARN_STEPS = 10
LEARN_OVERRIDES = (
    "reward.custom_reward_function.path=pkg://verl_dsdr.toy.learn_check",
    "reward.custom_reward_function.name=compute_score",
    "data.train_batch_size=8",
    "actor_rollout_ref.rollout.n=8",
    "actor_rollout_ref.actor.ppo_mini_batch_size=2",  # 4 updates per step
    # 16 rollouts per update: on two ranks 8 each, which verl's micro-batches must divide.
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=8",
    "actor_rollout_ref.actor.optim.lr=3e-4",
)


@pytest.fixture(scope="session")
def learn_steps() -> int:
    """Training steps of the side-by-side runs (the learning runs)."""
    return LEARN_STEPS


@pytest.fixture(scope="session")
def side_by_side(assets, tmp_path_factory):
    """Two runs at once, each with its own Ray: DSDR on two ranks (`trainer.n_gpus_per_node=2`) and,
    started 20 s later while the first is still running, GRPO on one rank.

    They are the suite's plain `dsdr` and `grpo` runs (test_cpu_trainer.py, test_lean_backend.py) and
    its learning runs (test_pipeline_learns.py: LEARN_OVERRIDES, LEARN_STEPS), so the two-rank
    setting, the side-by-side isolation and the learning check cost the suite two runs, not five."""
    runs, errors = {}, []

    def go(name, overrides, delay):
        time.sleep(delay)
        try:
            runs[name] = run_training(overrides, tmp_path_factory.mktemp(name))
        except Exception as error:  # reported by the tests, not lost in the thread
            errors.append(error)

    plan = [
        (
            "two_ranks",
            [*embedded_cpu_run(assets, "dsdr", LEARN_STEPS), *LEARN_OVERRIDES, "trainer.n_gpus_per_node=2"],
            0,
        ),
        ("second", [*embedded_cpu_run(assets, "grpo", LEARN_STEPS), *LEARN_OVERRIDES], SECOND_RUN_DELAY_S),
    ]
    threads = [threading.Thread(target=go, args=item) for item in plan]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for run in runs.values():
        assert not own_processes(run.token, run.ray_dir), "the run's processes were not all stopped"
    return runs


REPO = Path(__file__).resolve().parents[2]


def cluster_command(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """``bash scripts/cpu_cluster.sh <args>`` for the cluster in ``folder``."""
    env = {**os.environ, "VERL_DSDR_CLUSTER_DIR": str(folder)}
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "cpu_cluster.sh"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@dataclass
class ClusterRun:
    """A 2-node local cluster (``scripts/cpu_cluster.sh``), one run across it, and what was seen."""

    run: RunResult
    listening: list[str]  # "ip:port" of every socket the cluster's processes listened on, before the run
    status: dict  # ``cpu_cluster.sh status`` after the run: nodes and the actors on each
    up: subprocess.CompletedProcess
    down: subprocess.CompletedProcess
    left: list[int]  # the cluster's processes still alive after ``down``
    folder_left: bool


@pytest.fixture(scope="session")
def two_node_run(assets, tmp_path_factory) -> ClusterRun:
    """DSDR across two Ray nodes, under verl's colocate_async trainer with the exact (``full``)
    entropy estimator: ``cpu_cluster.sh up``, the run (joining with ``+ray_kwargs.ray_init.address``
    and the environment ``up`` printed, as a run joins a real cluster), ``status``, ``down``.

    One run for three settings: two nodes (test_cluster.py), colocate_async (test_trainer_modes.py)
    and the full estimator (test_cpu_trainer.py). The cluster lives in a short folder of its own and
    is always brought down."""
    import json
    import tempfile

    import psutil

    from verl_dsdr.cpu.local_cluster import cluster_processes

    folder = Path(tempfile.mkdtemp(prefix="vdsdr_cl_", dir="/tmp"))
    up = cluster_command(folder, "up")
    listening: list[str] = []
    status: dict = {}
    run = RunResult(returncode=-1, run_dir=folder, log=up.stdout + up.stderr)
    try:
        if up.returncode == 0:
            for pid in cluster_processes(folder):
                try:
                    conns = psutil.Process(pid).net_connections("inet")
                except psutil.NoSuchProcess:
                    continue
                listening += [f"{c.laddr.ip}:{c.laddr.port}" for c in conns if c.status == psutil.CONN_LISTEN]
            exports = dict(
                line.removeprefix("export ").split("=", 1)
                for line in up.stdout.splitlines()
                if line.startswith("export ")
            )
            exports = {key: shlex.split(value)[0] for key, value in exports.items()}
            address = exports.pop("VERL_DSDR_CLUSTER_ADDRESS")
            run = run_training(
                [
                    *embedded_cpu_run(assets, "dsdr", 2),
                    f"+ray_kwargs.ray_init.address={address}",
                    "trainer.nnodes=2",
                    "trainer.n_gpus_per_node=1",
                    # Joining a running cluster: its nodes own the session folder (run_training makes
                    # one for runs that start their own Ray; ray.init refuses it together with an address).
                    "++ray_kwargs.ray_init._temp_dir=null",
                    "trainer.v1.trainer_mode=colocate_async",
                    "algorithm.dsdr.entropy_estimator=full",
                ],
                tmp_path_factory.mktemp("two_nodes"),
                extra_env=exports,
                timeout_s=900,
            )
            state = cluster_command(folder, "status")
            status = json.loads(state.stdout) if state.returncode == 0 else {"error": state.stderr}
    finally:
        down = cluster_command(folder, "down")
        left = cluster_processes(folder)
    return ClusterRun(run, listening, status, up, down, left, folder.exists())


@pytest.fixture(scope="session")
def dsdr_colocate_full(two_node_run):
    """DSDR under verl's colocate_async trainer with the exact (`full`) entropy estimator: the
    two-node run (test_cluster.py), which covers both settings too."""
    return two_node_run.run


@dataclass
class LaunchedRun:
    """A run started as a user starts one, ``python -m verl_dsdr.launch``, and what it left."""

    run: RunResult  # the run folder's log and metrics (``series``, ``tail``)
    console: str  # what the user saw (the brief console)
    ckpt: Path  # trainer.default_local_dir
    own_tmp: Path  # the TMPDIR it was started with
    steps: int


@pytest.fixture(scope="session")
def asym_kl_saving(assets, tmp_path_factory) -> LaunchedRun:
    """AsymGRPO with a reference model (a KL loss and a KL penalty in the reward), saving Hugging Face
    weights, through the launcher's command line with a temporary folder of its own (``TMPDIR``).

    One run for three kinds of check: AsymGRPO trains (test_cpu_trainer.py), the reference model's
    two consumers work on CPU (test_reference_model.py), and a saving run leaves nothing behind and
    prints a brief console (test_stop_and_cleanup.py)."""
    base = tmp_path_factory.mktemp("asym_kl_saving")
    run_dir, ckpt, own_tmp = base / "run", base / "ckpt", base / "tmp"
    own_tmp.mkdir()
    steps = 2
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "verl_dsdr.launch",
            "--run-dir",
            str(run_dir),
            "--tiny-overrides",
            "--",
            "preset=cpu",
            "algorithm.adv_estimator=asym_grpo",
            f"actor_rollout_ref.model.path={assets.model_dir}",
            f"data.train_files={assets.train_parquet}",
            f"data.val_files={assets.val_parquet}",
            f"trainer.total_training_steps={steps}",
            f"trainer.save_freq={steps}",
            f"trainer.default_local_dir={ckpt}",
            "actor_rollout_ref.actor.checkpoint.save_contents=[model,hf_model]",
            "actor_rollout_ref.actor.use_kl_loss=true",
            "actor_rollout_ref.actor.kl_loss_coef=0.1",
            "actor_rollout_ref.actor.optim.lr=1e-4",
            "algorithm.use_kl_in_reward=true",
        ],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(own_tmp)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = run_dir / "train.log"
    run = RunResult(
        returncode=done.returncode,
        run_dir=run_dir,
        log=log.read_text(errors="replace") if log.is_file() else done.stdout + done.stderr,
        metrics=read_metrics(run_dir / "metrics.jsonl"),
    )
    return LaunchedRun(run, done.stdout + done.stderr, ckpt, own_tmp, steps)
