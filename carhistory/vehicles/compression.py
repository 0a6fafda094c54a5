"""Which of Django's responses are compressed, and why only these.

Static files come compressed from whitenoise (made at `collectstatic`). Django's own responses
are not compressed site-wide: a compressed page that holds a secret beside text an attacker can
make it reflect gives the secret away through the response's size (BREACH). The buyer's report
page, its evidence bundle and the verifier's words hold no such secret: they show the log's
public data, and the page's CSRF token is masked afresh in every response (so no two responses
share the bytes an attacker would guess at), its evidence token is bound to the client's
address and GZipMiddleware pads each response with random bytes. Uncompressed, they were half a
first visit's bytes (docs/PERFORMANCE.md, "Report page").
"""

from collections.abc import Callable

from django.http import HttpResponse
from django.views.decorators.gzip import gzip_page


def compressed_public_response(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """`view` answering gzip-compressed to clients that accept it. Only for views whose
    responses hold nothing secret (see above): a new use needs that argument made again."""
    return gzip_page(view)
