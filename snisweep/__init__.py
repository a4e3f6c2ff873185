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
    Proxy,
    Reason,
    Target,
    TLSVersion,
    Trust,
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
    "Proxy",
    "Reason",
    "SnisweepError",
    "TLSVersion",
    "Target",
    "Trust",
    "UsageError",
    "Verdict",
    "WarningCode",
    "__version__",
]
