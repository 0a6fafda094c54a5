"""The site's settings for the test suite, with one change: a fast password hasher.

Factories give users passwords, and PBKDF2's deliberate slowness (about half a second a user
here) was a third of the suite's time. MD5 protects nothing, which is why it is set only
here, for tests, and never in `carhistory.settings`.
"""

from carhistory.settings import *  # noqa: F403 - the real settings, unchanged but for the hasher

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
