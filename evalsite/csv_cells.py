"""CSV cells that a spreadsheet would run as formulas: the rule is written once, in ``analysis.csv_cells`` (which
imports nothing of Django, so the analysis's documents can be made without the site); the site's modules take it
from here."""

from analysis.csv_cells import FORMULA_STARTS, neutralise, restore

__all__ = ("FORMULA_STARTS", "neutralise", "restore")
