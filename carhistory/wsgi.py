"""WSGI entry point, as gunicorn serves it: `gunicorn carhistory.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carhistory.settings")
application = get_wsgi_application()
