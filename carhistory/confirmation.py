"""A second step before an action that cannot be undone (revoke a key, approve, suspend or
revoke a source, erase private details): the first POST shows what will happen and asks again;
only a POST carrying `confirmed=yes` acts. Plain HTML forms, so it works without JavaScript."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CONFIRMED = "yes"


def is_confirmed(request: HttpRequest) -> bool:
    return request.POST.get("confirmed") == CONFIRMED


def ask(
    request: HttpRequest, *, title: str, consequence: str, cancel_url: str, action: str
) -> HttpResponse:
    """The page that asks again, re-posting every field the first form sent."""
    fields = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in ("csrfmiddlewaretoken", "confirmed")
        for value in values
    ]
    return render(
        request,
        "confirm.html",
        {
            "title": title,
            "consequence": consequence,
            "fields": fields,
            "cancel_url": cancel_url,
            "action": action,
        },
    )
