"""Fixtures shared by the unit tests: the finished run on disk of ``package_kit``."""

from package_kit import built, run, schemas

__all__ = ["built", "run", "schemas"]
