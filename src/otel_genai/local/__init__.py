"""Local, dependency-free helpers that ship with the SDK (the simulator now; receiver and dashboard later)."""

__all__: list[str] = []  # nothing public here
