"""One module per paper table; each builder writes its table and figures and returns the table,
with the paths of its figures in ``table.attrs["figures"]``."""

from .ablations import (
    balance_ablation_table,
    fusion_ablation_table,
    optimisation_ablation_table,
    vit_sweep_table,
)
from .cards import model_card
from .classical import run_classical
from .data_overview import dataset_overview, example_figures
from .loso import loso_classical, loso_neural, loso_table
from .main import main_table
from .pascal import cross_dataset
from .plus import ensemble_rows, knockout_rows, plus_ladder_table
from .robust import robust_default, robust_runs, screen_scores
from .selection import branch_knockout_table, test_selection_table
from .summary import figures

__all__ = [
    "main_table",
    "vit_sweep_table",
    "fusion_ablation_table",
    "balance_ablation_table",
    "optimisation_ablation_table",
    "cross_dataset",
    "run_classical",
    "loso_classical",
    "loso_neural",
    "loso_table",
    "dataset_overview",
    "example_figures",
    "knockout_rows",
    "ensemble_rows",
    "plus_ladder_table",
    "test_selection_table",
    "branch_knockout_table",
    "figures",
    "robust_runs",
    "robust_default",
    "model_card",
    "screen_scores",
]
