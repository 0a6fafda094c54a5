"""The one base class for refusals of the domain: a request that cannot be done as asked.

Services and selectors raise a `DomainError` (or a subclass named for its area) carrying the
field it concerns and a message the user can act on. The API maps it to a 400 once, in
`carhistory.rest.exception_handler`; web views show the message beside the field. Bad input
must never surface as a 500.
"""


class DomainError(ValueError):
    """A refusal the user can act on: `message` says why and what to do, `field` names the
    input it concerns (None for the request as a whole).

    Subclasses may set a class-level `field` for the input they always concern."""

    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field

    def as_field_errors(self) -> dict[str, str | list[str]]:
        """The error in DRF's shape: `{field: [message]}`, or `{"detail": message}` when it
        concerns the whole request."""
        if self.field is None:
            return {"detail": str(self.message)}
        return {self.field: [str(self.message)]}
