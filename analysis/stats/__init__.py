"""The statistics of a study, from a tidy ratings frame to a ``StudyReport``: paired judgments, the crossed mixed
model, descriptives, robustness tests, the two-way bootstrap, position, agreement, annotator quality, power and
the adjustment of p-values across studies; and, not yet part of a study's report, Bradley–Terry/Davidson strengths for
pairwise-preference judgements (``pairwise``), the K-condition rating model (``conditions``), each pair of K
conditions by the difference model (``paired_contrasts``) and power by simulation for both designs
(``pairwise_power``, ``condition_power``).

Pure functions over numpy/pandas/scipy/statsmodels/NLopt: nothing here imports Django or the project's apps, so it
runs (in a notebook, a benchmark, a worker) without Django settings. Import the submodules themselves, e.g.
``from analysis.stats.report import study_report``; this package imports none of them.
"""
