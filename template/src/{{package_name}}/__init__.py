"""A reproducible ML project."""

__version__ = "0.1.0"
