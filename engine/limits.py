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

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)

    def raised(self, **overrides: int | float) -> "Limits":
        """A copy with some caps changed, for in-process work beyond what the server allows."""
        return replace(self, **overrides)


LIMITS = Limits()
