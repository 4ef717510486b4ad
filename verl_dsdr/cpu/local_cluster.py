"""A Ray cluster of several nodes on one machine, for CPU runs across nodes (``scripts/cpu_cluster.sh``).

``python -m verl_dsdr.cpu.local_cluster up|down|env|status [--dir D] [--nodes N]`` starts N Ray
nodes (default 2) on this machine, each with one logical GPU, so that ``trainer.nnodes=2
trainer.n_gpus_per_node=1`` places one trainer rank on each node, as on a real cluster. It is
Ray's own single-machine cluster (``ray.cluster_utils.Cluster``, the tool Ray provides to
simulate nodes) started without a reaper, so the nodes outlive this command until ``down``.

Closed to the network like an embedded run (:mod:`verl_dsdr.cpu.local_ray`): every node's
address is ``127.0.0.1`` (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``), so Ray's servers bind to
loopback, and token authentication is on with a token kept in the cluster's folder. A run joins
with ``+ray_kwargs.ray_init.address=<address>`` and the environment that ``env`` prints (the
same three variables; the driver must use the loopback address too, or Ray looks for a raylet
on the machine's network address).

Everything lives in one short folder (default ``/tmp/vdsdr_cluster_<uid>``; Ray's unix socket
paths must stay short): Ray's session, the token, the address. Every process of the cluster
carries the folder's name in ``VERL_DSDR_RUN_TOKEN``, so ``down`` stops exactly those and their
children (:func:`cluster_processes`), never anything by name.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from verl_dsdr.cpu.local_ray import LOOPBACK_ENV, TOKEN_FILE, write_token
from verl_dsdr.utils.processes import MARKER_ENV, own_processes, stop_processes

__all__ = ["ClusterError", "default_dir", "down", "join_environment", "status", "up"]

ADDRESS_FILE = "address"
CPUS_PER_NODE = 16  # logical scheduling slots, not cores (verl_dsdr/cpu/resources.py explains the count)
OBJECT_STORE_BYTES = 256 * 2**20  # per node; Ray's default (30% of RAM per node) is far more than a CPU run uses


class ClusterError(RuntimeError):
    """The cluster cannot be started, joined or read; the message says why and what to do."""


def default_dir() -> Path:
    return Path(os.environ.get("VERL_DSDR_CLUSTER_DIR") or f"/tmp/vdsdr_cluster_{os.getuid()}")


def join_environment(folder: Path) -> dict[str, str]:
    """The environment a driver needs to join the cluster in ``folder`` (and the nodes run with)."""
    return {LOOPBACK_ENV: "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(folder / TOKEN_FILE)}


def address_of(folder: Path) -> str:
    path = folder / ADDRESS_FILE
    if not path.exists():
        raise ClusterError(f"no cluster in {folder}: start one with `bash scripts/cpu_cluster.sh up`")
    return path.read_text().strip()


def up(folder: Path, nodes: int = 2) -> str:
    """Start ``nodes`` Ray nodes with one logical GPU each; return the GCS address."""
    if nodes < 1:
        raise ClusterError(f"--nodes={nodes}: a cluster needs at least one node")
    if (folder / ADDRESS_FILE).exists():
        raise ClusterError(
            f"a cluster is already up in {folder} (address {address_of(folder)}): "
            "stop it with `bash scripts/cpu_cluster.sh down` or choose another VERL_DSDR_CLUSTER_DIR"
        )
    if len(str(folder)) > 40:
        raise ClusterError(f"{folder} is too long for Ray's unix socket paths: use a folder of at most 40 characters")
    folder.mkdir(parents=True, exist_ok=True)
    write_token(folder)
    # RAY_TMPDIR: Ray's own default folder (where Cluster records the address) inside ours, not /tmp/ray;
    # TMPDIR: every node's and worker's temporary files (verl's checkpoint locks, ...) inside ours too.
    (folder / "ray").mkdir(exist_ok=True)
    (folder / "tmp").mkdir(exist_ok=True)
    os.environ.update(
        {
            **join_environment(folder),
            MARKER_ENV: folder.name,
            "RAY_TMPDIR": str(folder),
            "TMPDIR": str(folder / "tmp"),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
    )
    # Read at import: Ray must be imported after the environment above is set.
    from ray.cluster_utils import Cluster

    node_args: dict[str, Any] = {"num_cpus": CPUS_PER_NODE, "num_gpus": 1, "object_store_memory": OBJECT_STORE_BYTES}
    try:
        cluster = Cluster(
            initialize_head=True,
            shutdown_at_exit=False,
            head_node_args={**node_args, "temp_dir": str(folder), "include_dashboard": False},
        )
        for _ in range(nodes - 1):
            cluster.add_node(**node_args)
    except Exception:
        down(folder)
        raise
    address = cluster.address
    (folder / ADDRESS_FILE).write_text(address + "\n")
    return address


def cluster_processes(folder: Path) -> list[int]:
    """The cluster's processes: those naming its folder or carrying its token, and their children
    (Ray's renamed agents and workers; :func:`verl_dsdr.utils.processes.own_processes`)."""
    return own_processes(folder.name, str(folder))


def down(folder: Path, grace_s: float = 3.0) -> list[int]:
    """Stop the cluster's processes (SIGTERM, then SIGKILL after ``grace_s``) and remove its folder."""
    pids = cluster_processes(folder)
    stop_processes(pids, grace_s)
    shutil.rmtree(folder, ignore_errors=True)
    return pids


def status(folder: Path) -> dict:
    """The cluster's nodes and, per node, the actors that ran there (alive or finished)."""
    address = address_of(folder)
    os.environ.update(join_environment(folder))
    import ray

    ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    try:
        # ray.nodes() is public; the actor table has no public reader without Ray's dashboard,
        # which the cluster does not run: ray._private.state.actors() reads it from the GCS.
        from ray._private.state import actors

        alive = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]}
        table = actors()
    finally:
        ray.shutdown()
    per_node: dict[str, list[str]] = {node: [] for node in alive}
    for info in table.values():
        per_node.setdefault(info["Address"]["NodeID"], []).append(info["ActorClassName"])
    return {"address": address, "nodes": alive, "actors_per_node": per_node}


def _exports(folder: Path) -> str:
    env = {"VERL_DSDR_CLUSTER_ADDRESS": address_of(folder), **join_environment(folder)}
    return "\n".join(f"export {key}={shlex.quote(value)}" for key, value in env.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/cpu_cluster.sh", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "down", "env", "status"))
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="cluster folder (default $VERL_DSDR_CLUSTER_DIR or /tmp/vdsdr_cluster_<uid>)",
    )
    parser.add_argument("--nodes", type=int, default=2, help="nodes to start (up; default 2)")
    args = parser.parse_args(argv)
    folder = (args.dir or default_dir()).absolute()
    try:
        if args.command == "up":
            address = up(folder, args.nodes)
            print(f"# {args.nodes} Ray nodes at {address} (folder {folder}); train across them with", file=sys.stderr)
            print(
                "#   +ray_kwargs.ray_init.address=$VERL_DSDR_CLUSTER_ADDRESS trainer.nnodes=2 trainer.n_gpus_per_node=1",
                file=sys.stderr,
            )
            print(_exports(folder))
        elif args.command == "env":
            print(_exports(folder))
        elif args.command == "status":
            print(json.dumps(status(folder), indent=1))
        else:
            stopped = down(folder)
            print(f"stopped {len(stopped)} process(es) of the cluster in {folder}", file=sys.stderr)
    except ClusterError as error:
        print(f"[verl-dsdr] {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
