"""Process bookkeeping for the fault harness: what it started, read from /proc, and killed only by its own ids."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    """One process as /proc shows it; (pid, start) names it even if the pid is reused later."""

    pid: int
    ppid: int
    pgid: int
    start: int
    state: str


def read_proc(pid: int) -> Proc | None:
    """The process's /proc/<pid>/stat, or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    rest = raw[raw.rindex(")") + 2:].split()
    return Proc(pid, int(rest[1]), int(rest[2]), int(rest[19]), rest[0])


def all_procs() -> list[Proc]:
    """Every process on the machine (those that vanish while we read are skipped)."""
    found = (read_proc(int(name)) for name in os.listdir("/proc") if name.isdigit())
    return [p for p in found if p is not None]


def alive(proc: Proc) -> bool:
    """Still running (not a zombie) and still the same process, not a reused pid."""
    now = read_proc(proc.pid)
    return now is not None and now.start == proc.start and now.state not in ("Z", "X")


def established_sockets(port: int) -> set[int]:
    """Socket inodes of established TCP connections to local `port` (IPv4, from /proc/net/tcp)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            cols = line.split()
            if int(cols[1].split(":")[1], 16) == port and cols[3] == "01":
                inodes.add(int(cols[9]))
    return inodes


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets a process has open."""
    found = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    found.add(int(target[8:-1]))
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Tracker:
    """The process groups this harness started; everything in them is ours and nothing else is."""

    groups: dict[int, int] = field(default_factory=dict)  # pgid -> start time of its leader
    seen: dict[int, Proc] = field(default_factory=dict)

    def adopt(self, pid: int, strict: bool = True) -> Proc | None:
        """Track the group that `pid` leads (started with a new session, or a daemon that did setsid)."""
        proc = read_proc(pid)
        if proc is None:
            if not strict:  # a short command that already finished: nothing left to track
                return None
            raise RuntimeError(f"process {pid} exited before it could be tracked")
        self.groups.setdefault(proc.pgid, proc.start)
        self.seen[proc.pid] = proc
        return proc

    def members(self) -> list[Proc]:
        """Live processes in our groups; also remembered, so the final check covers short-lived ones."""
        ours = [p for p in all_procs() if p.pgid in self.groups and p.state not in ("Z", "X")]
        for p in ours:
            self.seen.setdefault(p.pid, p)
        return ours

    def children(self, pid: int) -> list[Proc]:
        """Live direct children of one of our processes."""
        return [p for p in self.members() if p.ppid == pid]

    def kill_all(self, timeout: float = 10.0) -> None:
        """SIGKILL every live member of our groups until none is left (bounded in time)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            left = self.members()
            if not left:
                return
            for p in left:
                if alive(p):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p.pid, signal.SIGKILL)
            time.sleep(0.1)

    def survivors(self) -> list[Proc]:
        """Processes this harness started (or saw in its groups) that still run."""
        self.members()
        return [p for p in self.seen.values() if alive(p)]
