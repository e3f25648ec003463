__version__ = "0.1.0"


__all__: list[str] = []  # nothing public here
