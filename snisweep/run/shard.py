"""Shards: which slice of an endpoint list one scan takes. Pure: no I/O (``from_environment``
reads the mapping it is given).

An endpoint belongs to a shard by a stable hash of its host, port and configured address, never
by its position in the list: the same endpoint lands in the same shard on every machine and every
night, whatever the order of the lists or the entries added around it, so the N shards of a list
cover it exactly once. (The worker processes of one scan share out their list by position
instead, see ``snisweep.cli``: they all read the same validated lists, so positions agree.)

``--shard I/N`` counts from 1, like the ``I/N`` of most tools that shard work; Kubernetes'
``JOB_COMPLETION_INDEX`` counts from 0, so index ``k`` is shard ``k+1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from snisweep.errors import UsageError
from snisweep.model import endpoint_digest

#: The environment a Kubernetes Indexed Job gives every pod (0-based), and the shard count,
#: which Kubernetes does not expose: the Job's manifest sets it, equal to ``completions``.
INDEX_VARIABLE = "JOB_COMPLETION_INDEX"
COUNT_VARIABLE = "SNISWEEP_SHARD_COUNT"

SHARDS_MAX = 100_000


def endpoint_hash(host: str, port: int, address: str | None) -> int:
    """A 64-bit hash of an endpoint that every machine and Python process agrees on
    (``hash()`` does not: it is salted per process)."""
    # The endpoint's one identity, without its SNI name: entries that differ only there are
    # one endpoint to de-duplication, so they must fall in one shard.
    return int.from_bytes(endpoint_digest(host, port, address, None)[:8], "big")


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``number`` of ``count`` (1-based), as ``--shard`` and the report's column spell it."""

    number: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= SHARDS_MAX:
            raise UsageError(f"the shard count must be between 1 and {SHARDS_MAX}: {self.count}")
        if not 1 <= self.number <= self.count:
            raise UsageError(
                f"shard {self.number}/{self.count}: the shard number counts from 1 to {self.count}"
            )

    def __str__(self) -> str:
        return f"{self.number}/{self.count}"

    def holds(self, host: str, port: int, address: str | None) -> bool:
        """Whether the endpoint with this host, port and configured address is in this shard."""
        return endpoint_hash(host, port, address) % self.count == self.number - 1


def parse_shard(text: str) -> Shard:
    """``"I/N"`` as given to ``--shard``."""
    number, slash, count = text.strip().partition("/")
    if not slash:
        raise UsageError(f"--shard takes I/N, e.g. 1/4 for the first of four shards: {text!r}")
    return Shard(_whole(number, text, "--shard"), _whole(count, text, "--shard"))


def from_environment(environ: Mapping[str, str]) -> Shard | None:
    """The shard a Kubernetes Indexed Job pod is, or None outside such a Job."""
    index = environ.get(INDEX_VARIABLE, "").strip()
    count = environ.get(COUNT_VARIABLE, "").strip()
    if not index and not count:
        return None
    if not count:
        raise UsageError(
            f"{INDEX_VARIABLE} is set but {COUNT_VARIABLE} is not: set it to the Job's "
            "completions, or give --shard I/N"
        )
    if not index:
        raise UsageError(f"{COUNT_VARIABLE} is set but {INDEX_VARIABLE} is not; give --shard I/N")
    shards = _whole(count, count, COUNT_VARIABLE)
    if shards < 1:
        raise UsageError(f"{COUNT_VARIABLE} must be at least 1: {count!r}")
    position = _whole(index, index, INDEX_VARIABLE)
    if position >= shards:
        raise UsageError(
            f"{INDEX_VARIABLE}={position} is not below {COUNT_VARIABLE}={shards} "
            "(the index counts from 0)"
        )
    return Shard(position + 1, shards)


def _whole(text: str, whole: str, what: str) -> int:
    digits = text.strip()
    if not digits.isascii() or not digits.isdigit():
        raise UsageError(f"{what}: not a whole number in {whole!r}")
    return int(digits)
