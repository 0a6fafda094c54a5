"""WSGI entry point, as gunicorn serves it: `gunicorn carhistory.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carhistory.settings")
application = get_wsgi_application()

from ledger.checks import require_log_key  # noqa: E402  (needs the app registry)

# gunicorn runs no system checks: refuse to serve a log that cannot sign its checkpoints.
require_log_key()
