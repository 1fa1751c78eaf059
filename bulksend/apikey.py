"""API keys are secrets: this wrapper keeps them out of logs, reprs, errors and tracebacks."""

from __future__ import annotations


class ApiKey:
    """An API key whose text only ``reveal()`` gives, for the one header that needs it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value or not value.strip():
            raise ValueError("an API key cannot be empty")
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "ApiKey('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("ApiKey", self._value))

    def __reduce__(self) -> tuple:
        # Pickling would write the key into whatever file or queue receives it.
        raise TypeError("ApiKey cannot be pickled")
