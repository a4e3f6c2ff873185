"""The embedded lab: real TLS servers on loopback for ``snisweep demo``, ``snisweep lab`` and the
integration tests. Starting a ``Lab`` does I/O (sockets, threads); see ``snisweep.lab.servers``.
"""

from snisweep.lab.servers import Lab, Scenario

__all__ = ["Lab", "Scenario"]
