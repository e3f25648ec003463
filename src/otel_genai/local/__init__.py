"""Local, dependency-free helpers that ship with the SDK (the simulator now; receiver and dashboard later)."""
