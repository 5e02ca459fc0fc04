"""The paper's reported numbers, shown beside ours in the tables.

Siddiqui & Saha (2025), arXiv:2509.23454.
"""

__all__ = ["PAPER_MAIN", "PAPER_PASCAL", "PAPER_VIT_SWEEP"]

# The paper's Table (PhysioNet 2016 test set, 301 records).
PAPER_MAIN = {
    "spectrogram": {"roc_auc": 0.8066, "mcc": 0.4444, "f1_abnormal": 0.7383, "accuracy": 0.7193},
    "waveform": {"roc_auc": 0.8223, "mcc": 0.4884, "f1_abnormal": 0.7057, "accuracy": 0.7376},
    "fusion": {"roc_auc": 0.8608, "mcc": 0.5508, "f1_abnormal": 0.7664, "accuracy": 0.7741},
}
# Zero-shot PASCAL ROC-AUC and its change relative to PhysioNet.
PAPER_PASCAL = {
    "spectrogram": {"roc_auc": 0.4873, "change_pct": -39.6},
    "waveform": {"roc_auc": 0.6782, "change_pct": -17.5},
    "fusion": {"roc_auc": 0.7181, "change_pct": -16.6},
}
# ViT depth x heads sweep of the fusion model.
PAPER_VIT_SWEEP = {
    (4, 8): {"params_m": 1.99, "roc_auc": 0.8451, "accuracy": 0.7612, "mcc": 0.5215},
    (6, 8): {"params_m": 2.56, "roc_auc": 0.8608, "accuracy": 0.7741, "mcc": 0.5508},
    (8, 8): {"params_m": 3.17, "roc_auc": 0.8592, "accuracy": 0.7713, "mcc": 0.5451},
    (12, 6): {"params_m": 4.35, "roc_auc": 0.8515, "accuracy": 0.7689, "mcc": 0.5402},
}
