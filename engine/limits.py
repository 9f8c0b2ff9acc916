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
    max_l2: float = 100.0  # the L2 coefficient lambda
    max_test_fraction: float = 0.5  # share of a data set held out for testing
    max_noise: float = 1.0  # noise of a toy data set (its points spread about 1)
    max_steps_taken: int = 2**31 - 1  # counts a client sends back of steps already taken: Adam's t, batch_index
    # A training run diverges when its loss exceeds its first value by its divergence_factor; this largest
    # factor lets a run go on until a number overflows, so that the answer names where that happened.
    max_training_divergence_factor: float = 1e300
    # The gradient-descent lab (engine.landscape, engine.descent): two-parameter surfaces.
    max_descent_steps: int = 2_000  # steps of one run, for every optimizer in it
    max_descent_optimizers: int = 8  # runs side by side from one start
    max_surface_grid: int = 200  # points per side of a contour grid
    max_etas: int = 60  # learning rates in one Taylor comparison
    max_line_points: int = 1_001  # points of the one-parameter view
    max_coordinate: float = 1e3  # |a|, |b| of a start, a point or a box edge
    min_box_width: float = 1e-6  # the smallest side of a box
    min_condition: float = 1.0  # the quadratic bowl's condition number lambda_max / lambda_min
    max_condition: float = 1e4
    max_divergence_factor: float = 1e12  # a run diverges when its loss exceeds its start by this factor
    max_surface_nodes: int = 200  # nodes of a typed f(a, b): it is evaluated at every grid point and step
    # Classroom rooms (app.classroom). How many rooms one server holds and how long an idle room lives
    # are server settings (BACKPROP_MAX_ROOMS, BACKPROP_ROOM_IDLE_SECONDS); these are what a page shows.
    max_students_per_room: int = 300  # students following one room at once
    max_room_state_bytes: int = 32_768  # the teacher's page state, as JSON
    max_room_state_depth: int = 16  # nesting of that JSON
    max_room_state_keys: int = 64  # names at its top level
    max_room_url_chars: int = 8_192  # the teacher's page address (path and query)
    max_quiz_prompt_chars: int = 300
    max_answers_per_window: int = 5  # answers one student may send ...
    answer_window_seconds: int = 10  # ... in this many seconds
    max_room_updates_per_second: int = 20  # the teacher's changes; a page sends at most ~10 a second

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)

    def raised(self, **overrides: int | float) -> "Limits":
        """A copy with some caps changed, for in-process work beyond what the server allows."""
        return replace(self, **overrides)


LIMITS = Limits()
