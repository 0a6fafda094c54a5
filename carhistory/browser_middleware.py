"""Django's session, user and message middleware, skipped for the sources API.

A source's request is authenticated by its API key (`ApiKeyAuthentication`); nothing of the
sources API reads a session, Django's user or messages, or sets a cookie. Yet the three set up
a session store, a lazy user and two message stores on every request and look at them again
on the way out: about a tenth of a millisecond of a single event's CPU
(docs/PERFORMANCE.md, "Fifth session"). For the sources API's paths they pass the request
straight on; every other path (the portal, moderation, the admin, the report pages) gets them
as before. Subclasses, so Django's checks still find the middleware the admin needs.
"""

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponse

from carhistory.sources.urls import PATH_PREFIXES


def for_the_sources_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(PATH_PREFIXES)


class _PassesTheSourcesApiOn:
    """Mixed in before a Django middleware: the sources API's requests go straight on."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if for_the_sources_api(request):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_PassesTheSourcesApiOn, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(_PassesTheSourcesApiOn, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(_PassesTheSourcesApiOn, messages.MessageMiddleware):
    pass
