"""The figures' font: matplotlib's own DejaVu Sans without its OpenType layout tables (GSUB, GPOS).

Every glyph, its metrics and the kerning table stay; what goes are ligatures and other substitutions, which
matplotlib's text shaping would apply ("ff" in "differences" set as one glyph of no character, which a PDF embeds
as a font of its own and a reader cannot copy or search), and the tables that made embedding the font in each PDF
(``pdf.fonttype`` 42, a subset per file) cost a quarter of a second. The copy is made once per matplotlib version
into matplotlib's cache folder and registered under its own family name, so the same data give the same figures.
"""

import functools
import os
import tempfile
from pathlib import Path

import matplotlib
from fontTools.ttLib import TTFont
from matplotlib import font_manager

FAMILY = "DejaVu Sans EvalSite"
DROPPED_TABLES = ("GSUB", "GPOS", "GDEF")


@functools.cache
def figure_font() -> str:
    """The family name of the figures' font, registered with matplotlib (made first when not cached yet)."""
    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    target = Path(matplotlib.get_cachedir()) / f"evalsite-dejavu-sans-{matplotlib.__version__}.ttf"
    if not target.exists():
        font = TTFont(source)
        for table in DROPPED_TABLES:
            if table in font:
                del font[table]
        for record in font["name"].names:
            if record.nameID in (1, 4, 16):  # family, full name, typographic family
                record.string = FAMILY
        handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".ttf")
        os.close(handle)
        try:
            font.save(temporary)
            os.replace(temporary, target)  # whole, so that a process beside this one never reads half of it
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    font_manager.fontManager.addfont(str(target))
    return FAMILY
