"""Throwaway network "hosts" for benches: one bridge in the root namespace, one network namespace per host joined to
it by a veth pair, all named with this run's own token so teardown removes exactly what was made (needs root).

    net = Net(["a", "b"]).up()      # bridge 10.77.X.1/24; host a 10.77.X.2, host b 10.77.X.3
    argv = net.exec_argv("a", ["gunicorn", ...])   # run a command inside host a
    net.down()                      # idempotent; also registered with atexit
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import subprocess

IP = shutil.which("ip") or "/usr/sbin/ip"
PREFIX = "p2h"  # every name this module makes starts with it (interface names are at most 15 characters)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `ip …`; raises with its stderr when it fails and check is set."""
    proc = subprocess.run([IP, *args], capture_output=True, text=True, timeout=20)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def used_subnets() -> set[int]:
    """Third octets of the 10.77.X.0/24 networks some interface already has (ours or anybody's)."""
    out = ip("-o", "-4", "addr", "show").stdout
    return {int(word.split(".")[2]) for word in out.split() if word.startswith("10.77.")}


class Net:
    """A bridge plus one namespace per host; `down()` removes every namespace and link this object made."""

    def __init__(self, hosts: list[str]):
        self.token = f"{PREFIX}{secrets.token_hex(3)}"  # 9 characters: names stay under 15 with a suffix
        self.hosts = list(hosts)
        self.bridge = f"{self.token}br"
        self.netns = {h: f"{self.token}-{h}" for h in self.hosts}
        self.veths = {h: f"{self.token}{i}" for i, h in enumerate(self.hosts)}  # root-side ends
        self.made: list[tuple[str, str]] = []  # ("netns"|"link", name), in creation order
        self.subnet = None
        self.closed = False

    @property
    def cidr(self) -> str:
        """The hosts' network, e.g. 10.77.12.0/24."""
        return f"10.77.{self.subnet}.0/24"

    @property
    def gateway(self) -> str:
        """The bridge's address in the root namespace: where shared servers listen."""
        return f"10.77.{self.subnet}.1"

    def address(self, host: str) -> str:
        """The host's own address inside its namespace."""
        return f"10.77.{self.subnet}.{2 + self.hosts.index(host)}"

    def up(self) -> Net:
        """Make the bridge, the namespaces and the veth pairs; on any error, remove what was made and raise."""
        if os.geteuid() != 0:
            raise RuntimeError("network namespaces need root")
        atexit.register(self.down)
        taken = used_subnets()
        self.subnet = next((n for n in range(1 + os.getpid() % 200, 255) if n not in taken), None)
        if self.subnet is None:
            raise RuntimeError("no free 10.77.X.0/24 subnet")
        try:
            ip("link", "add", self.bridge, "type", "bridge")
            self.made.append(("link", self.bridge))
            ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
            for host in self.hosts:
                ns, veth, peer = self.netns[host], self.veths[host], f"{self.veths[host]}p"
                ip("netns", "add", ns)
                self.made.append(("netns", ns))
                ip("link", "add", veth, "type", "veth", "peer", "name", peer)
                self.made.append(("link", veth))  # deleting one end deletes the pair
                ip("link", "set", peer, "netns", ns)
                ip("link", "set", veth, "master", self.bridge)
                ip("link", "set", veth, "up")
                ip("-n", ns, "link", "set", "lo", "up")  # the service's closed local ports must refuse, not hang
                ip("-n", ns, "link", "set", peer, "name", "eth0")
                ip("-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", "eth0")
                ip("-n", ns, "link", "set", "eth0", "up")
                ip("-n", ns, "route", "add", "default", "via", self.gateway)
        except BaseException:
            self.down()
            raise
        return self

    def exec_argv(self, host: str, argv: list[str]) -> list[str]:
        """argv run inside the host's namespace (`ip netns exec` execs it: same pid, same process group)."""
        return [IP, "netns", "exec", self.netns[host], *argv]

    def pids(self) -> list[int]:
        """Processes still inside our namespaces (only ours can be there: nobody else knows the names)."""
        found = []
        for ns in self.netns.values():
            out = ip("netns", "pids", ns, check=False).stdout
            found += [int(p) for p in out.split() if p.isdigit()]
        return found

    def down(self) -> None:
        """Kill what is left inside our namespaces, then delete our links and namespaces (newest first)."""
        if self.closed:
            return
        self.closed = True
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for kind, name in reversed(self.made):
            if kind == "link":
                ip("link", "del", name, check=False)
            else:
                ip("netns", "del", name, check=False)
        atexit.unregister(self.down)

    def leftovers(self) -> list[str]:
        """Namespaces and links with this run's token that still exist (empty after `down()`)."""
        names = ip("netns", "list", check=False).stdout.split() + ip("-o", "link", "show").stdout.split()
        return sorted({n.rstrip(":").split("@")[0] for n in names if n.startswith(self.token)})
