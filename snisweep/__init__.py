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
    HttpAnswer,
    HttpOutcome,
    Observation,
    Probed,
    Reason,
    Target,
    Verdict,
    WarningCode,
)

__version__ = "0.2.0"

__all__ = [
    "Certificate",
    "Classification",
    "ConfigError",
    "Endpoint",
    "Failure",
    "FailureKind",
    "Handshake",
    "HttpAnswer",
    "HttpOutcome",
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
    "WarningCode",
    "__version__",
]
