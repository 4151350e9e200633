"""``--shard I/N`` for every simulate command: the I-th (1..N) of N equal parts of a production."""
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
