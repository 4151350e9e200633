"""``python -m surrogate`` runs the command-line interface."""
from surrogate.cli import main

main()
