"""Readers of ratings collected with other tools into the tidy rows ``import_ratings`` stores: Label Studio's JSON
export (``label_studio``) and Potato's annotation output (``potato``), both through ``tasks``."""
