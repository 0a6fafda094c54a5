"""The sources' refusal: a request about a source that cannot be done as asked."""

from carhistory.errors import DomainError


class SourceError(DomainError):
    """A request about a source that cannot be done as asked; the message says why."""
