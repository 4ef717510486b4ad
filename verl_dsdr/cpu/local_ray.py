"""A CPU run's own Ray: its own session folder, loopback sockets only, a token made for the run.

verl starts a local Ray cluster when ``ray_kwargs.ray_init.address`` is unset. Left to Ray's
defaults on Linux, that cluster's GCS server, raylets and workers listen on every interface, and
TransferQueue binds its ZeroMQ sockets to the node address Ray reports (the machine's network
address), so anyone who can reach a laptop could submit work to it. Two Ray switches close it:

- ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (Ray's own single-machine mode, the default on macOS and
  Windows; ``ray/_private/ray_constants.py`` ~657, ``ray/_private/services.py`` ~811) makes the
  node address ``127.0.0.1``: Ray's servers then bind to loopback, and so do TransferQueue's
  sockets and Ray's metrics endpoints (they bind to the node address);
- token authentication (``RAY_AUTH_MODE=token``) with a token written for this run into its own
  session folder (``RAY_AUTH_TOKEN_PATH``), never to the home folder, as a second lock;
- torch's process group meets through a file in that folder instead of a TCP store (which would
  listen on every interface; :func:`verl_dsdr.cpu.patches.file_store_init_method`), and gloo's
  connections between ranks use the loopback interface (``GLOO_SOCKET_IFNAME``).

Every process of the run also keeps its temporary files in that folder (``TMPDIR=<folder>/tmp``):
verl's checkpoint lock files (``ckpt_<hash>.lock``, ``verl/utils/fs.py`` ``local_mkdir_safe``),
torch's fallback inductor cache, Python's multiprocessing folders. They go when the folder goes.

Each run also gets its own session folder (``ray_init._temp_dir``) unless one is given, so runs
started side by side never share sockets, logs or clean-up. Joining an existing cluster
(``ray_init.address``) changes nothing: that cluster's own settings apply (docs/CPU_BACKEND.md).
Imports neither verl nor ray.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, open_dict

from verl_dsdr.cpu.patches import DIST_STORE_DIR_ENV

__all__ = ["LOOPBACK_ENV", "TOKEN_FILE", "LocalRay", "new_session_dir", "prepare_local_ray"]

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
TOKEN_FILE = "verl_dsdr_auth_token"
SESSION_PREFIX = "vdsdr_ray_"
TMP_SUBDIR = "tmp"  # every process's temporary files (TMPDIR), removed with the folder
# Ray starts idle Python workers ahead of demand (one per logical CPU at the first driver); every
# verl actor gets a dedicated process anyway, so on a CPU run they are memory and nothing else.
LEAN_RAY_ENV = {"RAY_enable_worker_prestart": "0", "RAY_prestart_worker_first_driver": "0"}


def new_session_dir() -> str:
    """A fresh Ray session folder under /tmp (Ray's unix socket paths must stay short)."""
    return tempfile.mkdtemp(prefix=SESSION_PREFIX, dir="/tmp")


def loopback_interface() -> str:
    """The name of the interface holding 127.0.0.1 (``lo`` on Linux, ``lo0`` on macOS)."""
    import socket

    import psutil

    for name, addresses in psutil.net_if_addrs().items():
        if any(a.family == socket.AF_INET and a.address.startswith("127.") for a in addresses):
            return name
    return "lo"


def write_token(folder: str | Path) -> Path:
    """A random token readable by the user alone, kept in the run's own folder."""
    path = Path(folder) / TOKEN_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path


@dataclass(frozen=True)
class LocalRay:
    folder: str  # the run's Ray session folder (ray_init._temp_dir)
    owned: bool  # made here, so removed when the run ends


def prepare_local_ray(config: DictConfig) -> LocalRay | None:
    """Give the run its own loopback-only, token-protected Ray and say where its folder is.

    Sets the environment of this (the launching) process, which Ray's GCS server, raylet and
    every worker inherit. ``None`` when the run joins an existing cluster.
    """
    ray_init = config.ray_kwargs.ray_init
    if ray_init.get("address"):
        return None
    folder, owned = ray_init.get("_temp_dir"), False
    if not folder:
        folder, owned = new_session_dir(), True
        with open_dict(config):
            ray_init["_temp_dir"] = folder
        atexit.register(shutil.rmtree, folder, True)  # registered before ray.init: runs after Ray's own shutdown
    Path(folder).mkdir(parents=True, exist_ok=True)
    token = write_token(folder)
    temporary = Path(folder) / TMP_SUBDIR
    temporary.mkdir(exist_ok=True)
    with open_dict(config):  # every Ray worker: torch's rendezvous through a file, gloo on loopback
        if ray_init.get("runtime_env") is None:
            ray_init.runtime_env = {}
        if ray_init.runtime_env.get("env_vars") is None:
            ray_init.runtime_env.env_vars = {}
        env_vars = ray_init.runtime_env.env_vars
        env_vars.setdefault(DIST_STORE_DIR_ENV, str(folder))
        env_vars.setdefault("GLOO_SOCKET_IFNAME", loopback_interface())
        env_vars.setdefault("TMPDIR", str(temporary))
    if os.environ.get("RAY_AUTH_MODE", "token").lower() != "token":
        print(
            f"[verl_dsdr] RAY_AUTH_MODE={os.environ['RAY_AUTH_MODE']} ignored: the CPU backend's local Ray "
            "always uses a token made for the run",
            flush=True,
        )
    os.environ.update(
        {
            LOOPBACK_ENV: "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(token),
            "TMPDIR": str(temporary),  # Ray's own processes and the driver: nothing of the run in /tmp itself
            **LEAN_RAY_ENV,
        }
    )
    tempfile.tempdir = None  # this process's temporary folder is read again from TMPDIR
    _refresh_ray_config()
    return LocalRay(str(folder), owned)


def _refresh_ray_config() -> None:
    """Make an already imported Ray see the new environment.

    Ray reads ``RAY_AUTH_MODE`` into its cached config when it is first imported; the servers it
    starts read the environment afresh, so a stale cache here would make this process talk to its
    own GCS without the token. Ray refreshes it the same way when it turns token mode on itself
    (``ray/_private/authentication/authentication_token_setup.py`` ``_enable_token_auth``).
    """
    import sys

    if "ray" in sys.modules:
        from ray._raylet import Config  # type: ignore[attr-defined]  # ray's _raylet.pyi stub omits the Cython Config

        Config.initialize("")
