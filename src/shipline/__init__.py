"""shipline: one shipline.yaml drives a model from data to production and back."""

__version__ = "0.1.0"
__all__ = ["__version__"]
