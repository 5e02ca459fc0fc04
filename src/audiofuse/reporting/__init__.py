"""Results as files: tables with provenance, figures, the paper's numbers, notebook runs.

:mod:`.provenance` (tables whose header says what produced them),
:mod:`.paper` (the paper's numbers), :mod:`.plots` (figures) and
:mod:`.notebooks` (running the notebooks with papermill).
"""
