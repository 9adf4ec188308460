"""Names that moved: module ``__getattr__`` hooks that keep old import paths working.

A name moved to another module stays importable from its old one, with a
:class:`DeprecationWarning` naming the new place (once per name and module)::

    __getattr__ = moved_names(__name__, globals(), ("sensing_flow",), _stack)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["moved_names"]


def moved_names(
    module: str, namespace: dict[str, Any], names: tuple[str, ...], target: ModuleType
) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``names`` from ``target`` with a deprecation warning.

    Parameters
    ----------
    module : str
        The old module's ``__name__``.
    namespace : dict
        The old module's ``globals()``: a name is cached there after the first access, so the
        warning is given once (a package's ``from x import y`` looks a name up twice).
    names : tuple of str
        The names that moved.
    target : module
        Where they live now (its public names are re-exported by ``mfflow``).
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            warnings.warn(
                f"{module}.{name} moved to the simulation stack: use mfflow.{name}",
                DeprecationWarning,
                stacklevel=2,
            )
            value = getattr(target, name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
