"""Reads for sources. A source sees only its own submissions: asking for another's is the same
as asking for one that does not exist."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from carhistory.sources.models import (
    Organisation,
    PrivateRecord,
    SigningKey,
    Submission,
    SubmissionStatus,
)
from ledger.selectors import indexes_for_pending, with_log_indexes


class State:
    PENDING = "pending"
    INTEGRATED = "integrated"
    REJECTED = "rejected"


@dataclass(frozen=True)
class SubmissionState:
    """What a source may know about one of its submissions (SPEC §4)."""

    id: str
    status: str
    index: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    external_id: str = ""
    private: dict[str, Any] | None = None
    private_erased: bool = False

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.index is not None:
            body["index"] = self.index
        if self.status == State.REJECTED:
            body["errors"] = self.errors
        if self.external_id:
            body["external_id"] = self.external_id
        if self.private is not None:
            body["private"] = self.private
        if self.private_erased:
            body["private_erased"] = True
        return body


def organisation_by_slug(slug: str) -> Organisation | None:
    return Organisation.objects.filter(slug=slug).first()


def current_signing_key(*, organisation: Organisation) -> SigningKey | None:
    return SigningKey.objects.filter(organisation=organisation, retired_at__isnull=True).first()


def signing_keys_of(*, organisation: Organisation) -> list[SigningKey]:
    """The source's signing keys, newest first, each with `log_index`: the index of its
    `source_key` entry, or None while that entry is pending."""
    return with_log_indexes(organisation.signing_keys.all(), pending="pending_id", into="log_index")


def signing_key_index(signing_key: SigningKey) -> int | None:
    """The log index of the key's `source_key` entry, None while it is pending."""
    return indexes_for_pending([signing_key.pending_id]).get(signing_key.pending_id)


def submissions_of(*, organisation: Organisation) -> QuerySet[Submission]:
    """The organisation's submissions, newest first."""
    return Submission.objects.filter(organisation=organisation).order_by("-created_at", "-id")


def submission_of(*, organisation: Organisation, submission_id: Any) -> Submission | None:
    """The organisation's submission with this public id; None for another's or a bad id."""
    try:
        public_id = uuid.UUID(str(submission_id))
    except ValueError:
        return None
    return Submission.objects.filter(organisation=organisation, public_id=public_id).first()


def submission_status(*, organisation: Organisation, submission_id: Any) -> SubmissionState | None:
    """Pending, integrated (with its index) or rejected (with reasons), with the private
    details the source sent; None if the organisation has no such submission."""
    submission = submission_of(organisation=organisation, submission_id=submission_id)
    if submission is None:
        return None
    state = submission_states([submission])[0]
    record = PrivateRecord.objects.filter(submission=submission).first()
    if record is None:
        return state
    return SubmissionState(
        id=state.id,
        status=state.status,
        index=state.index,
        errors=state.errors,
        external_id=state.external_id,
        private=record.details,
        private_erased=record.is_erased,
    )


def submission_states(submissions: Sequence[Submission]) -> list[SubmissionState]:
    """The states of many submissions, in order, with one query for their log indexes."""
    pending_ids = [s.pending_id for s in submissions if s.pending_id is not None]
    indexes = indexes_for_pending(pending_ids)
    return [_state(submission, indexes.get(submission.pending_id)) for submission in submissions]


def accepted_state(submission: Submission) -> SubmissionState:
    """The state of a submission accepted by the request that asks: pending, with no query
    (the sequencer takes it up only after that request commits)."""
    return SubmissionState(
        id=str(submission.public_id), status=State.PENDING, external_id=submission.external_id
    )


def _state(submission: Submission, index: int | None) -> SubmissionState:
    if submission.status == SubmissionStatus.REJECTED:
        status = State.REJECTED
    elif index is None:
        status = State.PENDING
    else:
        status = State.INTEGRATED
    return SubmissionState(
        id=str(submission.public_id),
        status=status,
        index=index,
        errors=submission.errors,
        external_id=submission.external_id,
    )
