"""WSGI entry point (gunicorn evalsite.wsgi).

Each web process loads every view as it starts (Django would on its first request: the analysis pages bring pandas,
SciPy and Matplotlib, about 200,000 objects in all) and then moves everything loaded so far out of the garbage
collector's reach (``gc.freeze``). A full collection otherwise scans all of them, a pause of 0.1–0.3 s on a small
machine during which every thread of the process waits: the long tail of the annotator pages under load
(docs/benchmarks.md, "Load").
"""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 (imports every URLconf and view now, not in the first request)
gc.freeze()
