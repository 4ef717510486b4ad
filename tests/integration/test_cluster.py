"""DSDR across two Ray nodes: ``bash scripts/cpu_cluster.sh up``, a run with ``trainer.nnodes=2``, ``down``.

The two nodes run on this machine (each with one logical GPU, loopback only, token
authentication on); the run joins them with ``+ray_kwargs.ray_init.address`` and the
environment ``up`` prints, as a run joins a real cluster. The cluster's actor table then says
on which node each of verl's actors ran.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import subprocess
import tempfile
from pathlib import Path

import psutil
import pytest

from verl_dsdr.launch import embedded_cpu_run, run_training

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
WORKER_CLASS = "WorkerDict"  # verl's colocated actor/rollout worker (create_colocated_worker_cls)


def cluster_command(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VERL_DSDR_CLUSTER_DIR": str(folder)}
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "cpu_cluster.sh"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def cluster():
    """A 2-node cluster in a short folder of its own; always brought down, and checked gone."""
    from verl_dsdr.cpu.local_cluster import cluster_processes

    folder = Path(tempfile.mkdtemp(prefix="vdsdr_cl_", dir="/tmp"))
    started = cluster_command(folder, "up")
    try:
        assert started.returncode == 0, started.stderr
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in started.stdout.splitlines()
            if line.startswith("export ")
        )
        yield folder, {key: shlex.split(value)[0] for key, value in exports.items()}
    finally:
        stopped = cluster_command(folder, "down")
        assert stopped.returncode == 0, stopped.stderr
        assert not cluster_processes(folder), "cpu_cluster.sh down left processes of the cluster"
        assert not folder.exists()


def test_cluster_listens_on_loopback_only(cluster):
    from verl_dsdr.cpu.local_cluster import cluster_processes

    folder, _ = cluster
    listening = []
    for pid in cluster_processes(folder):
        try:
            listening += [
                c.laddr for c in psutil.Process(pid).net_connections("inet") if c.status == psutil.CONN_LISTEN
            ]
        except psutil.NoSuchProcess:
            continue
    assert listening, "found no listening socket of the cluster: the test would pass vacuously"
    open_to_network = []
    for address in listening:
        ip = ipaddress.ip_address(address.ip)
        ip = getattr(ip, "ipv4_mapped", None) or ip
        if not ip.is_loopback:
            open_to_network.append(f"{address.ip}:{address.port}")
    assert not open_to_network, f"the cluster listens beyond loopback on {open_to_network}"


def test_dsdr_trains_across_two_nodes(cluster, assets, tmp_path):
    folder, exports = cluster
    address = exports.pop("VERL_DSDR_CLUSTER_ADDRESS")
    run = run_training(
        [
            *embedded_cpu_run(assets, "dsdr", 2),
            f"+ray_kwargs.ray_init.address={address}",
            "trainer.nnodes=2",
            "trainer.n_gpus_per_node=1",
            # Joining a running cluster: its nodes own the session folder (run_training makes one
            # for runs that start their own Ray; ray.init refuses it together with an address).
            "++ray_kwargs.ray_init._temp_dir=null",
        ],
        tmp_path,
        extra_env=exports,
        timeout_s=900,
    )
    assert run.returncode == 0, run.tail()
    assert len(run.series("actor/grad_norm")) == 2 and max(run.series("actor/grad_norm")) > 0
    assert run.run_info["worker_platforms"] == ["cpu", "cpu"]  # two trainer ranks

    status = cluster_command(folder, "status")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    nodes = set(state["nodes"])
    assert len(nodes) == 2
    worker_nodes = {node for node, actors in state["actors_per_node"].items() if any(WORKER_CLASS in a for a in actors)}
    assert worker_nodes == nodes, f"trainer workers ran on {worker_nodes}, not on both nodes {nodes}"
