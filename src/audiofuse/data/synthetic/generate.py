"""Both synthetic datasets, in the sizes the project uses."""

from __future__ import annotations

from pathlib import Path

from audiofuse.data.synthetic.pascal_like import write_pascal_like
from audiofuse.data.synthetic.physionet_like import write_physionet_like

_SIZES = {
    # smoke: seconds to write on two cores; enough records for both classes in every split
    "smoke": {
        "physionet": {"n_records": 320, "min_seconds": 5.0, "max_seconds": 10.0},
        "pascal": {"n_records": 80},
    },
    "demo": {
        "physionet": {"n_records": 600, "min_seconds": 5.0, "max_seconds": 30.0},
        "pascal": {"n_records": 150},
    },
}


def make_synthetic_datasets(
    data_root: str | Path, *, size: str = "smoke", seed: int = 0
) -> dict[str, Path]:
    """Write (or reuse) both synthetic datasets under ``data_root/synthetic``.

    Parameters
    ----------
    data_root : str or Path
        The project's data folder (see :func:`audiofuse.config.data_dir`).
    size : {"smoke", "demo"}
        ``"smoke"``: 320 PhysioNet-like records of 5-10 s and 80 PASCAL-like
        ones, written in seconds. ``"demo"``: 600 records of 5-30 s and 150.
        Both hold out 20 % of the PhysioNet-like records as the test split
        (the real data: ~9 %) so that the small test set has both classes in
        useful numbers.
    seed : int
        Base seed; the PASCAL-like set uses ``seed + 1``.

    Returns
    -------
    dict
        ``{"physionet2016": path, "pascal": path}``.
    """
    if size not in _SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(_SIZES)}")
    base = Path(data_root) / "synthetic" / size
    sizes = _SIZES[size]
    physionet = write_physionet_like(
        base / "physionet2016", seed=seed, test_fraction=0.2, **sizes["physionet"]
    )
    pascal = write_pascal_like(base / "pascal", seed=seed + 1, **sizes["pascal"])
    return {"physionet2016": physionet, "pascal": pascal}
