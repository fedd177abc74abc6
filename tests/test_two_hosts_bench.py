"""bench/_netns.py, the network under bench/two_hosts.py: hosts reach the bridge, and teardown leaves no namespace,
link or process behind, also when setting up fails half-way. Needs root (network namespaces)."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import _netns as N  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

CONNECT = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); print('ok')"


def test_hosts_reach_the_bridge_and_nothing_is_left_behind():
    net = N.Net(["a", "b"]).up()
    try:
        assert net.leftovers() == sorted([net.bridge, *net.netns.values(), *net.veths.values()])
        with socket.socket() as listener:
            listener.bind((net.gateway, 0))
            listener.listen()
            for host in net.hosts:
                out = subprocess.run(net.exec_argv(host, [sys.executable, "-c", CONNECT, net.gateway,
                                                          str(listener.getsockname()[1])]),
                                     capture_output=True, text=True, timeout=30)
                assert out.stdout.strip() == "ok", out.stderr
        sleeper = subprocess.Popen(net.exec_argv("b", ["sleep", "60"]))
        # `ip netns exec` enters the namespace after it starts: wait (bounded) until it is in there.
        deadline = time.monotonic() + 10
        while sleeper.pid not in net.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sleeper.pid in net.pids()
    finally:
        net.down()
    assert sleeper.wait(timeout=10) == -9  # down() kills what still runs inside its namespaces
    assert net.leftovers() == []
    assert net.netns["a"] not in subprocess.run([N.IP, "netns", "list"], capture_output=True, text=True).stdout


def test_a_failed_set_up_removes_what_it_made(monkeypatch):
    real = N.ip

    def failing(*args, check=True):
        if args[:2] == ("netns", "add") and args[2].endswith("-b"):
            raise RuntimeError("refused on purpose")
        return real(*args, check=check)

    monkeypatch.setattr(N, "ip", failing)
    net = N.Net(["a", "b"])
    with pytest.raises(RuntimeError, match="on purpose"):
        net.up()
    monkeypatch.setattr(N, "ip", real)
    assert net.made  # the bridge and host a were made before the failure
    assert net.leftovers() == []
