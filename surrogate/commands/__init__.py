"""One module per CLI subcommand; heavy imports (torch, h5py) happen inside the commands."""
from surrogate.commands.benchmark import benchmark
from surrogate.commands.export import export
from surrogate.commands.generate import generate
from surrogate.commands.inspect import inspect
from surrogate.commands.merge import merge
from surrogate.commands.models import models
from surrogate.commands.quickstart import quickstart
from surrogate.commands.simulate import simulate
from surrogate.commands.train import train
from surrogate.commands.validate import validate

COMMANDS = [simulate, inspect, merge, train, generate, validate, benchmark, export, models, quickstart]
