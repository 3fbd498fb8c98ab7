"""Return values that read well at the end of a notebook cell.

A labkit verb that prints what it did (``apply``, ``kill``, ``kubectl``)
returns a value that Jupyter does not show a second time; text meant to be
read (``logs``) shows as itself, without quotes or ``\\n`` escapes.
"""

from __future__ import annotations


class Output(str):
    """A string that displays as its text."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))


class Said(Output):
    """A string that was already printed: a notebook shows nothing more."""

    def _ipython_display_(self) -> None:
        pass


class SaidList(list):
    """A list of objects whose summary was already printed."""

    def _ipython_display_(self) -> None:
        pass


class SaidDict(dict):
    """An object whose summary was already printed."""

    def _ipython_display_(self) -> None:
        pass
