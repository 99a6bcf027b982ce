"""The one error type for a user's bad input: it names the file and the problem."""

from __future__ import annotations

from os import PathLike


class SceneError(Exception):
    """A scene or area of interest that cannot be used, for a reason the user can fix.

    ``str(error)`` reads ``"<path>: <problem>"``; a caller processing many scenes catches this
    type, records ``error.path`` and ``error.problem``, and goes on with the next scene.
    """

    def __init__(self, path: str | PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
