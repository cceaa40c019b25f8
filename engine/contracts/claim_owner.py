"""Who holds a queue claim, and whether that holder is provably dead.

A queue records, with every claim, the claiming process's owner id: its host, the kernel
instance it runs under (boot and pid namespace), its pid and a random token drawn once
per process. A process that starts on the same host, under the same kernel instance,
can then tell that an owner is gone (its pid no longer runs, or runs under a different
token, which means the pid was reused) and release that owner's claims at once instead
of waiting for their lease to run out. An owner on another host, in another container or
namespace, or in an unknown format is never judged dead: its claims wait for the lease.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

_SEPARATOR = "/"


@functools.cache
def _kernel_instance() -> str:
    """The boot and the pid namespace this process runs in (empty off Linux)."""
    import hashlib  # here, not at import: only a queue's process asks (commands start faster)

    parts = []
    try:
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    except OSError:
        parts.append("")
    try:
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        parts.append("")
    return hashlib.blake2b("|".join(parts).encode(), digest_size=6).hexdigest()


_TOKEN: tuple[int, str] | None = None


def _token() -> str:
    """A random token drawn once per process (and again in a forked child)."""
    global _TOKEN
    pid = os.getpid()
    if _TOKEN is None or _TOKEN[0] != pid:
        _TOKEN = (pid, os.urandom(4).hex())
    return _TOKEN[1]


def _host() -> str:
    import socket  # as hashlib above

    return socket.gethostname().replace(_SEPARATOR, "_")


def claim_owner_id() -> str:
    """This process's owner id: ``host/instance/pid/token``."""
    return _SEPARATOR.join((_host(), _kernel_instance(), str(os.getpid()), _token()))


def claim_owner_is_dead(owner: str) -> bool:
    """Whether ``owner`` (a ``claim_owner_id``) is provably no longer running."""
    parts = owner.rsplit(_SEPARATOR, 3)
    if len(parts) != 4 or not parts[2].isdigit():
        return False
    host, instance, pid_text, token = parts
    if host != _host() or instance != _kernel_instance():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return token != _token()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it runs, as another user
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """Whether ``pid`` has exited and only waits to be reaped (Linux; False elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].startswith("Z")
