"""A load balancer for the CPU backend's rollout servers that runs without importing verl.

verl routes every generation request through one load-balancer actor
(``verl/workers/rollout/router.py`` ``GlobalRequestLoadBalancer``: sticky per request id, else the
least busy server). Its process imports verl, torch and the rest (~0.4 GB on a CPU run) to keep a
few counters. verl's public router plugin (``actor_rollout_ref.rollout.router_config_path``: a
YAML naming ``router_class``, constructed as ``cls(servers, yaml_config)``, ``router.py`` ~360-395)
lets the CPU preset use this class instead: the same routing rule and the same methods, in a
process of its own that imports only Ray (~0.08 GB): the class is handed to verl as a Ray actor
class with a runtime environment of its own, so Ray starts a fresh worker for it instead of reusing
an idle one that has already imported verl. Routing is deterministic (the first of the least busy
servers) rather than random, so same-seed CPU runs route alike.
"""

from __future__ import annotations

from collections import OrderedDict
from importlib import resources
from typing import Any

import ray

__all__ = ["CPULoadBalancer", "LoadBalancer", "ROUTER_CONFIG", "router_config_path"]

ROUTER_CONFIG = "cpu_router.yaml"  # in verl_dsdr/config/: router_class: verl_dsdr.cpu.router.CPULoadBalancer


def router_config_path() -> str:
    """Absolute path of the packaged router YAML (verl resolves relative paths from its own folders)."""
    return str(resources.files("verl_dsdr") / "config" / ROUTER_CONFIG)


class LoadBalancer:
    """Sticky per request id, else the least busy server; the methods verl's callers use."""

    def __init__(self, servers: dict[str, Any], config: dict | None = None) -> None:
        self._cache_size = int((config or {}).get("max_cache_size", 10000))
        self._servers: dict[str, Any] = dict(servers)
        self._inflight: dict[str, int] = {sid: 0 for sid in servers}
        self._sticky: OrderedDict[str, str] = OrderedDict()

    def require_acquire_fields(self) -> list[str]:
        return []

    def require_release_fields(self) -> list[str]:
        return []

    def acquire_server(self, request_id: str) -> tuple[str, Any]:
        server_id = self._sticky.get(request_id)
        if server_id not in self._inflight:
            if not self._inflight:
                raise RuntimeError("No available servers in load balancer")
            server_id = min(self._inflight, key=self._inflight.__getitem__)
            self._sticky[request_id] = server_id
            if len(self._sticky) > self._cache_size:
                self._sticky.popitem(last=False)
        self._sticky.move_to_end(request_id)
        self._inflight[server_id] += 1
        return server_id, self._servers[server_id]

    def release_server(self, server_id: str, request_id: str | None = None) -> None:
        if self._inflight.get(server_id, 0) > 0:
            self._inflight[server_id] -= 1

    def add_servers(self, servers: dict[str, Any]) -> None:
        for sid, handle in servers.items():
            self._servers[sid] = handle
            self._inflight.setdefault(sid, 0)

    def remove_servers(self, server_ids: list[str]) -> None:
        for sid in server_ids:
            self._servers.pop(sid, None)
            self._inflight.pop(sid, None)

    def get_inflight_count(self, server_id: str) -> int:
        return self._inflight.get(server_id, 0)

    def get_all_servers(self) -> list[str]:
        return list(self._servers)

    def clear_sticky_cache(self) -> dict:
        cleared = len(self._sticky)
        self._sticky.clear()
        return {"cleared": cleared}

    def get_status(self) -> dict:
        return {
            "servers": dict(self._inflight),
            "total_inflight": sum(self._inflight.values()),
            "active_servers": len(self._inflight),
            "registered_handles": list(self._servers),
        }

    def get_total_inflight(self) -> int:
        return sum(self._inflight.values())


# A Ray actor class already (verl uses it as given, router.py ~393); its own runtime environment keeps
# Ray from placing it in a reused worker process; it holds no logical CPU (a few counters).
CPULoadBalancer = ray.remote(num_cpus=0, runtime_env={"env_vars": {"VERL_DSDR_PROCESS": "load_balancer"}})(LoadBalancer)
