"""The workbook's entry point: ``run_action(tag)``, called by the ribbon through RunPython.

PLACEHOLDER: only the import target that the VBA's RunPython command names. The
dispatcher of issue 6 (tags to actions on the open workbook) replaces this module.
"""

from __future__ import annotations


def run_action(tag: str) -> None:
    """Run the ribbon action named ``tag`` (placeholder: no action exists yet)."""
    raise NotImplementedError(f"ribbon action {tag!r} is not implemented yet")
