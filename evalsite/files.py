"""Files replaced whole: the writer is written once, in ``analysis.files`` (which imports nothing of Django, so that
``evalsite-analyze`` writes its files the same way without the site); the site's modules take it from here."""

from analysis.files import PartlyReplaced, atomic_path, atomic_paths

__all__ = ("PartlyReplaced", "atomic_path", "atomic_paths")
