"""The paper's experiments as functions: the notebooks only set parameters and call these.

A typical notebook::

    ctx = experiments.setup(profile="smoke", data_dir=None, seeds=[0, 1, 2])
    runs = experiments.run_models(ctx, experiments.PAPER_MODELS)
    experiments.main_table(ctx, runs)

``data_dir=None`` (or ``"synthetic"``) uses the embedded synthetic PCG
datasets; otherwise ``data_dir`` must hold ``physionet2016/`` and, for the
cross-dataset experiment, ``pascal/``.

Trained models land in ``runs/<data>/<profile>/<model>/seed<k>/`` and are
reused (or resumed) when the same experiment runs again; tables and figures
land in ``results/<data>/<profile>/``.

Modules: :mod:`.specs` (which runs make each table), :mod:`.context`
(profile, data and folders), :mod:`.runs` (everything that touches a run
folder), :mod:`.head` (cross-dataset head training), :mod:`.scheduler`
(many runs at once), :mod:`.tables` (one module per table), :mod:`.index`
(the results index and README block) and :mod:`.export`.
"""

from .context import Context, physionet_data, setup
from .export import export_model
from .head import train_head
from .index import update_readme_headline, write_results_index
from .runs import load_scores, pascal_scores, record_scores, run_models, train_and_score
from .scheduler import train_runs
from .specs import (
    AUTHORS_OPTIMISATION,
    BALANCE_ABLATION,
    BALANCE_LABELS,
    EVALUATIONS,
    FUSION_ABLATION,
    LOSO_MODELS,
    PAPER_MODELS,
    PLUS_BRANCHES,
    PLUS_LABEL_BALANCE,
    PLUS_LADDER,
    PLUS_PASCAL,
    PLUS_RECIPE,
    ROBUST_CANDIDATES,
    ROBUST_FINALISTS,
    TABLE_SPECS,
    VIT_SWEEP,
    ModelSpec,
)
from .tables import (
    balance_ablation_table,
    branch_knockout_table,
    cross_dataset,
    dataset_overview,
    ensemble_rows,
    example_figures,
    figures,
    fusion_ablation_table,
    knockout_rows,
    loso_classical,
    loso_neural,
    loso_table,
    main_table,
    model_card,
    optimisation_ablation_table,
    plus_ladder_table,
    robust_default,
    robust_runs,
    run_classical,
    test_selection_table,
    vit_sweep_table,
)

__all__ = [
    "ModelSpec",
    "PAPER_MODELS",
    "VIT_SWEEP",
    "FUSION_ABLATION",
    "BALANCE_LABELS",
    "BALANCE_ABLATION",
    "AUTHORS_OPTIMISATION",
    "PLUS_LADDER",
    "PLUS_PASCAL",
    "PLUS_BRANCHES",
    "PLUS_LABEL_BALANCE",
    "PLUS_RECIPE",
    "LOSO_MODELS",
    "ROBUST_CANDIDATES",
    "ROBUST_FINALISTS",
    "TABLE_SPECS",
    "EVALUATIONS",
    "Context",
    "setup",
    "physionet_data",
    "run_models",
    "train_and_score",
    "record_scores",
    "load_scores",
    "pascal_scores",
    "train_head",
    "train_runs",
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
    "figures",
    "knockout_rows",
    "ensemble_rows",
    "plus_ladder_table",
    "robust_runs",
    "robust_default",
    "model_card",
    "test_selection_table",
    "branch_knockout_table",
    "write_results_index",
    "update_readme_headline",
    "export_model",
]
