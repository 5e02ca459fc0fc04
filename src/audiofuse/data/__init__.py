"""The recordings: reading them, indexing datasets, splitting records, getting the data.

:mod:`.audio` (reading and resampling recordings), :mod:`.indexes` (PhysioNet 2016
and PASCAL as tables of recordings), :mod:`.splits` (validation carve-out and class
balance), :mod:`.protocols` (out-of-domain record splits), :mod:`.pack` (the
feature-ready pack for a GPU machine), :mod:`.download` (the real datasets) and
:mod:`.synthetic` (stand-in datasets in the same layouts).
"""
