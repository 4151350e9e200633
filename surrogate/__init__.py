"""surrogate: fast, validated generative surrogates for physics simulators."""
__version__ = "0.1.0"


def load(run_dir, *, which: str = "best", device="cpu"):
    """A trained surrogate from a run directory: ``surrogate.load("runs/ds2").sample(energies_mev)``.

    which: ``best`` (best quick validation during training) or ``last``. See
    :class:`surrogate.core.model.Surrogate`. Imported lazily so ``import surrogate`` stays light.
    """
    from surrogate.core.model import load as load_model

    return load_model(run_dir, which=which, device=device)
