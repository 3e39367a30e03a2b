"""Packaging the entry: the report, the submission zip and its verifier."""
