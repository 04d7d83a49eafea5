"""macroinfra: run and trust a macro-trading research data stack."""

__version__ = "0.1.0"
