"""``--shard I/N`` for every simulate command: the I-th (1..N) of N equal parts of a production.

A production is cut into whole units of its seeding (blocks of showers, N-body runs), so that merging
the shards gives exactly the unsharded file; shards then differ by at most one unit.
"""
from __future__ import annotations

from surrogate.errors import SurrogateError


def parse_shard(shard: str | None) -> tuple[int, int]:
    """(I, N) from ``I/N`` with 1 <= I <= N; (1, 1) when unset."""
    if shard is None:
        return 1, 1
    try:
        index, count = (int(part) for part in shard.split("/"))
    except ValueError:
        raise SurrogateError(f"--shard {shard!r}: expected I/N, e.g. 3/10") from None
    if not 1 <= index <= count:
        raise SurrogateError(f"--shard {shard!r}: I must be between 1 and N")
    return index, count


def shard_units(shard: str | None, units: int, unit_name: str) -> range:
    """The units (numbered from 0) of shard ``I/N`` of a production of ``units`` units: contiguous, N
    parts whose sizes differ by at most one. More shards than units would leave some empty: an error."""
    index, count = parse_shard(shard)
    if count > units:
        raise SurrogateError(f"--shard {shard}: {count} shards for {units} {unit_name} leaves some empty; "
                             f"use at most {units} shards")
    return range((index - 1) * units // count, index * units // count)
