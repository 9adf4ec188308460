"""One registry entry (:class:`Entry`): a public entry point, a valid call and its argument
kinds. Shared by :mod:`registry` and :mod:`registry_models`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Entry:
    """One public entry point.

    Attributes
    ----------
    name : str
        The public name (``mfflow.<name>``), or ``Class.method`` for a method.
    func : callable or None
        What is called; ``None`` for names that are not called (types, data).
    args : dict
        A valid call's arguments by name (``func(*positional, **keywords)``).
    positional : tuple of str
        The arguments passed positionally, in order; the others by keyword.
    kinds : dict
        Argument name -> kind (module docstring).
    arrays : tuple of str
        Array arguments (checked not mutated).
    namespace : bool
        Accepts torch/JAX arrays and returns their namespace and dtype.
    host : bool
        Accepts torch/JAX float64 arrays and returns NumPy results equal to the NumPy call.
    allowed : callable or None
        ``allowed(result, args) -> str | None``: why non-finite values in ``result`` are
        legitimate (a flag or a documented convention), or ``None`` if they are not.
    evaluate : callable or None
        ``evaluate(result)``: what to compute from a lazy result (methods, cached properties),
        so the fuzz checks those numbers too.
    kind : str
        ``"call"`` (fuzzed), ``"type"`` (a result type, produced by ``produced_by``), ``"app"``
        (paths: covered by the app tests), ``"data"``.
    produced_by : str
        For a result type: the entry that builds it.
    examples : int
        Fuzz examples for this entry (slow valid calls get fewer).
    """

    name: str
    func: Callable[..., Any] | None
    args: dict[str, Any] = field(default_factory=dict)
    positional: tuple[str, ...] = ()
    kinds: dict[str, str] = field(default_factory=dict)
    arrays: tuple[str, ...] = ()
    namespace: bool = False
    host: bool = False
    allowed: Callable[[Any, dict[str, Any]], str | None] | None = None
    evaluate: Callable[[Any], Any] | None = None
    kind: str = "call"
    produced_by: str = ""
    examples: int = 12

    def call(self, **changes: Any) -> Any:
        """Call with the valid arguments, some replaced (``changes``)."""
        assert self.func is not None
        args = {**self.args, **changes}
        pos = [args.pop(k) for k in self.positional if k in args]
        return self.func(*pos, **args)
