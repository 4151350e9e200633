"""Click parameter types shared by the commands; they import only click, so ``--help`` stays fast."""
from __future__ import annotations

import math

import click


class FiniteFloat(click.FloatRange):
    """A float that must be finite (NaN and infinity are refused), within an optional range.

    click's FloatRange lets NaN through every bound (all comparisons with NaN are false).
    """

    name = "finite float"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number

    def _describe_range(self) -> str:
        """No range in the help when there is none (click would show ``x<=None``)."""
        if self.min is None and self.max is None:
            return ""
        return super()._describe_range()
