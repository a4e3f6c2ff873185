"""snisweep: find out, for thousands of TLS endpoints at once, which ones need SNI."""

from snisweep.errors import (
    ConfigError,
    ListChangedError,
    OutputError,
    Problem,
    SnisweepError,
    UsageError,
)
from snisweep.model import (
    Certificate,
    Classification,
    Endpoint,
    Failure,
    FailureKind,
    Handshake,
    Observation,
    Probed,
    Reason,
    Target,
    Verdict,
)

__version__ = "0.1.0"

__all__ = [
    "Certificate",
    "Classification",
    "ConfigError",
    "Endpoint",
    "Failure",
    "FailureKind",
    "Handshake",
    "ListChangedError",
    "Observation",
    "OutputError",
    "Probed",
    "Problem",
    "Reason",
    "SnisweepError",
    "Target",
    "UsageError",
    "Verdict",
    "__version__",
]
