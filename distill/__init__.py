"""distill: turn a strong teacher model into graded, trainer-ready reasoning data."""

__version__ = "0.1.0"
