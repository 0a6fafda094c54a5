"""CSV uploads: check a file at the door, then submit its rows in chunks in the background.

Nothing of a bad file is stored: it must be UTF-8, within `CSV_UPLOAD_MAX_BYTES`, and have a
header the format knows (csv_format). A good file is stored whole and processed by a Celery
task, `CHUNK_SIZE` rows per `submit_events` call, with progress saved after each chunk. Rows
carry external ids (given or derived), so a retried task or a re-uploaded file appends nothing
twice.
"""

import csv
import hashlib
import io
from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from carhistory.portal import csv_format
from carhistory.portal.models import CsvUpload
from carhistory.sources import repair_records
from carhistory.sources.models import Channel, Organisation
from carhistory.sources.services import Outcome, submit_events

CHUNK_SIZE = 500


class SourceNotApproved(Exception):
    """The source was suspended or revoked while its upload was being processed."""


ERROR_REPORT_HEADER = ("row", "column", "message")


def create_csv_upload(
    *, organisation: Organisation, uploaded_by, filename: str, content: bytes
) -> CsvUpload:
    """Check and store an uploaded file; `tasks.process_csv_upload_task` then processes it.

    Raises ValidationError with a message a person can act on; nothing is stored then.
    """
    if len(content) > settings.CSV_UPLOAD_MAX_BYTES:
        raise ValidationError(
            _("The file is too large: at most %(megabytes)d MB.")
            % {"megabytes": settings.CSV_UPLOAD_MAX_BYTES // (1024 * 1024)}
        )
    if not organisation.may_submit:
        raise ValidationError(
            _("Your organisation may not submit events while it is not approved.")
        )
    text = _decoded(content)
    total_rows = _count_rows(text)
    upload = CsvUpload.objects.create(
        organisation=organisation,
        uploaded_by=uploaded_by,
        filename=filename[:255],
        content=text,
        sha256=hashlib.sha256(content).hexdigest(),
        total_rows=total_rows,
    )
    return upload


def process_csv_upload(*, upload_id: int) -> CsvUpload:
    """Submit every row of a stored upload, chunk by chunk; safe to run again after a crash."""
    upload = CsvUpload.objects.select_related("organisation").get(pk=upload_id)
    if upload.status == CsvUpload.Status.DONE:
        return upload
    _start(upload)
    try:
        _submit_rows(upload)
    except SourceNotApproved as error:
        _fail(upload, _("Stopped: your organisation is %(status)s.") % {"status": error})
        return upload
    except Exception:
        # Recorded so the page stops its progress bar and says so; re-raised so the task is
        # retried and the traceback reaches the logs (not the source's page).
        _fail(upload, _("Processing stopped on an internal error; it is retried automatically."))
        raise
    return upload


def _submit_rows(upload: CsvUpload) -> None:
    errors: list[tuple[int, str, str]] = []
    version, header, _header_row = _version_and_header(
        csv.reader(io.StringIO(upload.content, newline=""))
    )
    repair_layout = repair_records.is_csv_layout(header)
    for chunk in _chunks(_rows(upload.content), CHUNK_SIZE):
        # A source suspended while its file is processed stops here, between chunks.
        upload.organisation.refresh_from_db(fields=["status"])
        if not upload.organisation.may_submit:
            raise SourceNotApproved(upload.organisation.get_status_display())
        lines, payloads = [], []
        for line, row, problem in chunk:
            if problem:
                upload.rejected += 1
                errors.append((line, "", problem))
                continue
            try:
                payload = (
                    repair_records.record_from_csv_row(row)
                    if repair_layout
                    else csv_format.row_payload(
                        row, organisation_slug=upload.organisation.slug, version=version
                    )
                )
            except csv_format.UnknownServiceItems as error:
                # Refused whole: storing the row without the items it names would log a
                # service that says less than the source wrote.
                upload.rejected += 1
                errors.append(
                    (
                        line,
                        csv_format.VOCABULARY_COLUMN,
                        csv_format.unknown_items_message(error.items),
                    )
                )
                continue
            lines.append(line)
            payloads.append(payload)
        if repair_layout:
            results = repair_records.import_repair_records(
                organisation=upload.organisation, records=payloads, channel=Channel.CSV
            )
        else:
            results = submit_events(
                organisation=upload.organisation, payloads=payloads, channel=Channel.CSV
            )
        _stop_if_source_refused(upload, results)
        for line, result in zip(lines, results, strict=True):
            if result.outcome == Outcome.ACCEPTED:
                upload.accepted += 1
            elif result.outcome == Outcome.DUPLICATE:
                upload.duplicates += 1
            else:
                upload.rejected += 1
                errors.extend(_error_lines(line, result.errors, repair_layout=repair_layout))
        upload.processed_rows += len(chunk)
        upload.save(update_fields=["processed_rows", "accepted", "rejected", "duplicates"])
    upload.error_report = _error_report(errors) if errors else ""
    upload.status = CsvUpload.Status.DONE
    upload.finished_at = timezone.now()
    upload.save(update_fields=["error_report", "status", "finished_at"])


def _stop_if_source_refused(upload: CsvUpload, results) -> None:
    # `submit_events` reads the source's status again inside its transaction: a suspension that
    # committed while this chunk was being checked refuses every row of it, not only the next
    # chunk (tests/portal/test_csv.py).
    if any(result.outcome == Outcome.FORBIDDEN and "source" in result.errors for result in results):
        upload.organisation.refresh_from_db(fields=["status"])
        raise SourceNotApproved(upload.organisation.get_status_display())


def _fail(upload: CsvUpload, failure: str) -> None:
    upload.status = CsvUpload.Status.FAILED
    upload.failure = failure
    upload.finished_at = timezone.now()
    upload.save(update_fields=["status", "failure", "finished_at"])


def template_csv(kind: str) -> str:
    """A new file in the latest format version: its format line, then the header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_format.FORMAT_LINE])
    writer.writerow(csv_format.template_columns(kind))
    return buffer.getvalue()


def _decoded(content: bytes) -> str:
    if not content.strip():
        raise ValidationError(_("The file is empty."))
    try:
        # utf-8-sig also accepts the byte-order mark that Excel writes at the start.
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(
            _(
                "The file is not UTF-8 text. In Excel or WPS choose “Save as” → “CSV UTF-8”, "
                "then upload it again."
            )
        ) from None
    if "\x00" in text:
        raise ValidationError(_("This is not a CSV file: it contains binary data."))
    return text


def _count_rows(text: str) -> int:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        _version, header, _header_row = _version_and_header(reader)
        if not header:
            raise ValidationError(_("The file has no header row."))
        problems = csv_format.header_problems(header)
        if problems:
            raise ValidationError(problems)
        total = sum(1 for row in reader if any(cell.strip() for cell in row))
    except csv.Error as error:
        raise ValidationError(
            _("The file cannot be read as CSV (line %(line)d): %(error)s")
            % {"line": reader.line_num, "error": error}
        ) from None
    if total == 0:
        raise ValidationError(_("The file has a header but no rows."))
    return total


def _version_and_header(reader: Iterator[list[str]]) -> tuple[int, list[str], int]:
    """The file's format version, its header, and the row the header is on (1, or 2 below a
    format line), read from its first row or two."""
    first_row = next(reader, [])
    try:
        version = csv_format.csv_format_version(first_row)
    except csv_format.UnknownCsvFormat as error:
        raise ValidationError(csv_format.unknown_format_message(error.line)) from None
    if version is None:
        return csv_format.FIRST_VERSION, csv_format.normalise_header(first_row), 1
    return version, csv_format.normalise_header(next(reader, [])), 2


def _rows(text: str) -> Iterator[tuple[int, dict[str, str], str | None]]:
    """(row number as a spreadsheet shows it, cells by column, what is wrong with the row's
    shape or None) for each non-blank row."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    _version, header, header_row = _version_and_header(reader)
    for number, cells in enumerate(reader, start=header_row + 1):
        if not any(cell.strip() for cell in cells):
            continue
        problem = None
        if len(cells) > len(header):
            # Cells past the last column would be silently dropped: say so instead.
            problem = _(
                "This row has %(cells)d cells but the header names %(columns)d columns."
            ) % {
                "cells": len(cells),
                "columns": len(header),
            }
        yield number, dict(zip(header, cells, strict=False)), problem


def _chunks(rows: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _start(upload: CsvUpload) -> None:
    # A rerun (the worker died mid-file) starts over; the external ids make that harmless.
    upload.status = CsvUpload.Status.RUNNING
    upload.started_at = timezone.now()
    upload.processed_rows = upload.accepted = upload.rejected = upload.duplicates = 0
    upload.save(
        update_fields=[
            "status",
            "started_at",
            "processed_rows",
            "accepted",
            "rejected",
            "duplicates",
        ]
    )


def _error_lines(
    line: int, errors: dict[str, list[str]], *, repair_layout: bool
) -> Iterator[tuple[int, str, str]]:
    column_of = repair_records.csv_column if repair_layout else csv_format.error_column
    for field, messages in errors.items():
        for message in messages:
            yield line, column_of(field), str(message)


def _error_report(errors: list[tuple[int, str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ERROR_REPORT_HEADER)
    writer.writerows(errors)
    return buffer.getvalue()
