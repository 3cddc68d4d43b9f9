"""Hosts for the multi-host test: Linux network namespaces joined by veth pairs to one bridge.

Each host has its own loopback and its own address on 10.<n>.0.0/24; the
bridge (in the test's own namespace, with the .254 address) lets the test
reach every host. Cutting a host's link takes its veth down.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Sequence


def ip(*arguments: str) -> None:
    subprocess.run(["ip", *arguments], check=True, capture_output=True, text=True)


class Network:
    """A bridge and the hosts attached to it; ``close`` removes all of it."""

    def __init__(self, subnet: int = 77) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.prefix = f"10.{subnet}.0"
        self.bridge = f"bxbr{self.tag}"
        self.hosts: dict[str, str] = {}
        self.links: dict[str, str] = {}
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.prefix}.254/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def add_host(self, name: str, number: int) -> str:
        """A namespace with loopback and one veth to the bridge; returns its address."""
        namespace, outside, inside = f"bx{name}{self.tag}", f"bxo{number}{self.tag}", f"bxi{number}{self.tag}"
        address = f"{self.prefix}.{number}"
        ip("netns", "add", namespace)
        self.hosts[name] = namespace
        self.links[name] = outside
        ip("-n", namespace, "link", "set", "lo", "up")
        ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        ip("link", "set", inside, "netns", namespace)
        ip("link", "set", outside, "master", self.bridge)
        ip("link", "set", outside, "up")
        ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
        ip("-n", namespace, "link", "set", inside, "up")
        return address

    def run_in(self, name: str, command: Sequence[str]) -> list[str]:
        """``command`` prefixed so that it runs inside host ``name``."""
        return ["ip", "netns", "exec", self.hosts[name], *command]

    def cut(self, name: str) -> None:
        """Unplug host ``name``: its link goes down, its packets go nowhere."""
        ip("link", "set", self.links[name], "down")

    def restore(self, name: str) -> None:
        """Plug host ``name`` in again."""
        ip("link", "set", self.links[name], "up")

    def close(self) -> None:
        for namespace in self.hosts.values():
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
