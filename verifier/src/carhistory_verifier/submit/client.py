"""The sources' API over HTTP (SPEC §4), as much of it as `carhistory-submit` needs.

Standard library only. A request the server could not answer (a dropped connection, a 5xx, a
429) is tried again with backoff; what the server refused (400, 401, 403) is returned for the
caller to report. Resending is safe because every record carries an `external_id`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

TIMEOUT_SECONDS = 120
ATTEMPTS = 6
FIRST_BACKOFF_SECONDS = 1.0
LONGEST_BACKOFF_SECONDS = 30.0


class Unreachable(RuntimeError):
    """The server did not answer usefully after every attempt."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # parsed JSON, or the text when it was not JSON

    def detail(self) -> str:
        """The server's own words for a refusal, on one line."""
        if isinstance(self.body, dict):
            if "detail" in self.body:
                return str(self.body["detail"])
            return "; ".join(f"{name}: {_words(messages)}" for name, messages in self.body.items())
        return str(self.body)[:300]


class SourceClient:
    def __init__(self, base_url: str, token: str, *, sleep=time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._sleep = sleep

    def register_key(self, verifier_key: str) -> Answer:
        return self.post("/api/v1/signing-keys", {"key": verifier_key})

    def send_batch(self, payloads: list[dict[str, Any]]) -> Answer:
        return self.post("/api/v1/events/batch", {"events": payloads})

    def post(self, path: str, body: Any) -> Answer:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        backoff = FIRST_BACKOFF_SECONDS
        problem = ""
        for _attempt in range(ATTEMPTS):
            request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own
                self.base_url + path,
                data=data,
                method="POST",
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                    return Answer(response.status, _parsed(response.read()))
            except urllib.error.HTTPError as error:
                answer = Answer(error.code, _parsed(error.read()))
                if error.code != 429 and error.code < 500:
                    return answer
                problem = f"HTTP {error.code}: {answer.detail()}"
                wait = _retry_after(error.headers.get("Retry-After"), backoff)
            except (urllib.error.URLError, OSError) as error:
                problem = str(getattr(error, "reason", error))
                wait = backoff
            self._sleep(wait)
            backoff = min(backoff * 2, LONGEST_BACKOFF_SECONDS)
        raise Unreachable(f"{self.base_url}{path}: {problem}")


def _words(messages: Any) -> str:
    return " ".join(map(str, messages)) if isinstance(messages, list) else str(messages)


def _parsed(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _retry_after(header: str | None, default: float) -> float:
    try:
        return min(max(float(header), 0.0), LONGEST_BACKOFF_SECONDS) if header else default
    except ValueError:
        return default
