"""Test-run defaults, set before Django reads its settings (loaded early with -p)."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
# Tests talk plain HTTP to real daphne processes, so no HTTPS redirect or secure-only cookies.
os.environ.setdefault("DJANGO_SECURE", "0")
