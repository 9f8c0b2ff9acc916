"""The web layer: validate, call the engine, answer. No mathematics here."""

__version__ = "0.1.0"
