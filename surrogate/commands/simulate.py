"""``surrogate simulate DOMAIN ...``: run a domain's built-in reference simulator."""
from __future__ import annotations

import click

from surrogate.core.domain import available_domains


class _DomainSimulators(click.Group):
    """A group whose subcommands come from the installed domains, found when first needed."""

    def _load(self) -> None:
        if not self.commands:
            for domain in available_domains().values():
                for command in domain.simulate_commands():
                    self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str):
        self._load()
        return super().get_command(ctx, name)


@click.group(cls=_DomainSimulators)
def simulate() -> None:
    """Produce reference data with a built-in simulator (calorimeter showers, N-body maps)."""
