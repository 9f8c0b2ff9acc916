"""Every cap in one place: the parser, the engine, the API schemas and the UI read these numbers."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Limits:
    max_source_chars: int = 50_000
    max_statements: int = 5_000
    max_nodes: int = 5_000
    max_depth: int = 100
    max_name_chars: int = 64
    max_number_chars: int = 40
    max_inputs: int = 1_000
    max_params: int = 1_000
    max_tensor_elements: int = 10_000
    max_tensor_side: int = 1_000
    max_total_elements: int = 200_000
    max_abs_value: float = 1e15
    min_learning_rate: float = 1e-12
    max_learning_rate: float = 1e6
    max_steps: int = 20_000
    max_gradcheck_work: int = 200_000
    max_body_bytes: int = 1_048_576
    # Networks (engine.nn, engine.data, engine.train). A network's own graph is sized from these caps,
    # not from the per-program tensor caps above: a 784-128-64-10 net on a batch of 64 fits.
    max_layers: int = 8  # weight layers: the hidden layers and the output layer
    max_units: int = 256  # units in one layer
    max_features: int = 784  # inputs per point
    max_classes: int = 10
    max_parameters: int = 120_000  # weights and biases of one network
    max_points: int = 5_000  # rows of a data set, generated or uploaded
    max_upload_chars: int = 1_000_000  # CSV or JSON text of the user's own points
    max_iterations: int = 20_000
    max_training_work: int = 5_000_000_000  # iterations x batch size x parameters of one training run
    max_grid: int = 100  # points per side of the decision-boundary grid
    max_neuron_parameters: int = 64  # nets this small can be shown neuron by neuron ...
    max_neuron_nodes: int = 20_000  # ... as a scalar graph of at most this many nodes
    max_seed: int = 2**32 - 1

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)

    def raised(self, **overrides: int | float) -> "Limits":
        """A copy with some caps changed, for in-process work beyond what the server allows."""
        return replace(self, **overrides)


LIMITS = Limits()
