"""The figures' font: matplotlib's own DejaVu Sans cut down to the scripts and symbols of most labels, without its
OpenType layout tables (GSUB, GPOS, GDEF) and its MATH table.

What stays: Latin, Greek and Cyrillic with their accents, punctuation, currency, arrows, mathematical operators and
geometric shapes, each glyph with its metrics, hinting and the kerning table. What goes: ligatures and other
substitutions, which matplotlib's text shaping would apply ("ff" in "differences" set as one glyph of no
character, which a PDF embeds as a font of its own and a reader cannot copy or search), and five in six glyphs,
which every PDF's subset of the font (``pdf.fonttype`` 42) would read again. A figure with a character outside these
ranges (an Arabic or Hebrew label) names the whole DejaVu Sans as the next family, which draws it
(``families``); the others name the one family, which spares matplotlib looking up a second for every text.

The copy is made once per matplotlib version into matplotlib's cache folder and registered under its own family
name, so the same data give the same figures.
"""

import functools
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import matplotlib
from fontTools import subset
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

FAMILY = "DejaVu Sans EvalSite"
#: The copy's version, in its file name: a new one whenever what it holds changes.
VERSION = 4
#: The Unicode blocks kept (first, last code point).
RANGES = (
    (0x0020, 0x036F),  # Basic Latin to Latin Extended-B, IPA, spacing modifiers, combining diacritics
    (0x0370, 0x03FF),  # Greek
    (0x0400, 0x052F),  # Cyrillic and its supplement
    (0x1E00, 0x1FFF),  # Latin Extended Additional, Greek Extended
    (0x2000, 0x23FF),  # punctuation, super- and subscripts, currency, letterlike, number forms, arrows, operators
    (0x2460, 0x25FF),  # enclosed alphanumerics, box drawing, block elements, geometric shapes
    (0xFFFD, 0xFFFD),  # the replacement character
)


@functools.cache
def figure_font() -> str:
    """The family name of the figures' font, registered with matplotlib (made first when not cached yet)."""
    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    target = Path(matplotlib.get_cachedir()) / f"evalsite-dejavu-sans-{VERSION}-{matplotlib.__version__}.ttf"
    if not target.exists():
        font = TTFont(source)
        options = subset.Options(
            layout_features=[], name_IDs=["*"], name_languages=["*"], notdef_outline=True, glyph_names=True
        )
        options.drop_tables += ["GSUB", "GPOS", "GDEF", "MATH", "FFTM"]
        options.hinting = True
        cutter = subset.Subsetter(options)
        cutter.populate(unicodes=[code for first, last in RANGES for code in range(first, last + 1)])
        cutter.subset(font)
        for record in font["name"].names:
            if record.nameID in (1, 4, 16):  # family, full name, typographic family
                record.string = FAMILY
        handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".ttf")
        os.close(handle)
        try:
            font.save(temporary)
            os.chmod(temporary, 0o644)  # mkstemp's file is its maker's alone; the cache may be shared
            os.replace(temporary, target)  # whole, so that a process beside this one never reads half of it
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    font_manager.fontManager.addfont(str(target))
    return FAMILY


@functools.cache
def _characters() -> frozenset[int]:
    """The code points the figures' font draws."""
    figure_font()
    path = font_manager.findfont(font_manager.FontProperties(family=FAMILY), fallback_to_default=False)
    return frozenset(FT2Font(path).get_charmap())


def families(texts: Iterable[str]) -> list[str]:
    """The font families of a figure showing ``texts``: the figures' font, and the whole DejaVu Sans after it when
    one of them has a character the figures' font lacks."""
    known = _characters()
    whole = any(ord(character) not in known for text in texts for character in text if not character.isspace())
    return [figure_font(), "DejaVu Sans"] if whole else [figure_font()]
