"""Click parameter types shared by the commands, the CLI's and those a domain adds; they import only click, so
``--help`` stays fast."""
from __future__ import annotations

import math

import click


#: A seed: what numpy's SeedSequence and torch's manual_seed both accept (larger values overflowed in torch,
#: negative ones failed in numpy, each with a traceback).
SEED = click.IntRange(min=0, max=2**63 - 1)
#: Threads or worker processes: at least one, and no more than any machine has.
WORKERS = click.IntRange(min=1, max=4096)


class FiniteFloat(click.FloatRange):
    """A float that must be finite (NaN and infinity are refused), within an optional range.

    click's FloatRange lets NaN through every bound (all comparisons with NaN are false).
    """

    name = "finite float"

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):  # before the range, whose message would hide why
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)

    def _describe_range(self) -> str:
        """No range in the help when there is none (click would show ``x<=None``)."""
        if self.min is None and self.max is None:
            return ""
        return super()._describe_range()
