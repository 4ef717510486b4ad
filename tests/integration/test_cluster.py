"""DSDR across two Ray nodes: ``bash scripts/cpu_cluster.sh up``, a run with ``trainer.nnodes=2``, ``down``.

The two nodes run on this machine (each with one logical GPU, loopback only, token
authentication on); the run joins them with ``+ray_kwargs.ray_init.address`` and the
environment ``up`` prints, as a run joins a real cluster. The cluster's actor table then says
on which node each of verl's actors ran. The run is the suite's ``two_node_run`` (conftest.py),
which also trains under colocate_async with the exact entropy estimator.
"""

from __future__ import annotations

import ipaddress

import pytest

pytestmark = pytest.mark.integration

WORKER_CLASS = "WorkerDict"  # verl's colocated actor/rollout worker (create_colocated_worker_cls)


def test_cluster_comes_up_and_goes_down_leaving_nothing(two_node_run):
    assert two_node_run.up.returncode == 0, two_node_run.up.stderr
    assert two_node_run.down.returncode == 0, two_node_run.down.stderr
    assert not two_node_run.left, "cpu_cluster.sh down left processes of the cluster"
    assert not two_node_run.folder_left


def test_cluster_listens_on_loopback_only(two_node_run):
    listening = two_node_run.listening
    assert listening, "found no listening socket of the cluster: the test would pass vacuously"
    open_to_network = []
    for address in listening:
        ip = ipaddress.ip_address(address.rsplit(":", 1)[0])
        ip = getattr(ip, "ipv4_mapped", None) or ip
        if not ip.is_loopback:
            open_to_network.append(address)
    assert not open_to_network, f"the cluster listens beyond loopback on {open_to_network}"


def test_dsdr_trains_across_two_nodes(two_node_run):
    run = two_node_run.run
    assert run.returncode == 0, run.tail()
    assert len(run.series("actor/grad_norm")) == 2 and max(run.series("actor/grad_norm")) > 0
    assert run.run_info["worker_platforms"] == ["cpu", "cpu"]  # two trainer ranks

    state = two_node_run.status
    assert "error" not in state, state
    nodes = set(state["nodes"])
    assert len(nodes) == 2
    worker_nodes = {node for node, actors in state["actors_per_node"].items() if any(WORKER_CLASS in a for a in actors)}
    assert worker_nodes == nodes, f"trainer workers ran on {worker_nodes}, not on both nodes {nodes}"
