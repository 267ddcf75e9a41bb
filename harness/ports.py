"""A local TCP port of one's own."""

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now: a process started next may listen
    on it, and until one does, a connection to it is refused (a server that cannot be reached)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
