"""Scoring your own recordings with a trained model.

A recording of any length and sample rate is resampled to the model's
profile, cut into 5 s windows that cover all of it, and the model's
P(abnormal) is averaged over the windows. The label uses the decision
threshold stored with the model (chosen on its validation carve-out).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from audiofuse.config import Profile
from audiofuse.data.audio import AudioError, iter_audio_blocks
from audiofuse.files import read_json_object

__all__ = ["PredictError", "Predictor", "WINDOW_BATCH"]

WINDOW_BATCH = 32
"""Windows scored per model call, so memory stays flat with recording length."""


class PredictError(ValueError):
    """A file or model that cannot be used; the message names it."""


class Predictor:
    """A trained model plus the profile and threshold it was trained with.

    Parameters
    ----------
    model : keras.Model
    profile : Profile
    kind : {"fusion", "spectrogram", "waveform"}
    threshold : float
        P(abnormal) at or above which a recording is called abnormal.
    """

    def __init__(
        self,
        model,
        profile: Profile,
        kind: str,
        threshold: float = 0.5,
        source: str = "",
        calibration: dict | None = None,
    ):
        self.calibration = calibration
        self.model = model
        self.profile = profile
        self.kind = kind
        self.threshold = float(threshold)
        self.source = source

    @classmethod
    def load(cls, folder: str | os.PathLike, *, runtime: str = "auto") -> Predictor:
        """Load the model in ``folder`` and its ``config.json``.

        Parameters
        ----------
        folder : path
            Holds ``config.json`` and ``model.onnx`` and/or ``best.keras``.
        runtime : {"auto", "onnx", "keras"}
            ``"auto"`` runs ``model.onnx`` with onnxruntime (no TensorFlow,
            no Keras) and falls back to Keras only when there is no export,
            saying so on stderr.

        Raises
        ------
        PredictError
            When the folder, the model or its configuration is missing, or the
            model's inputs do not fit the stored profile.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise PredictError(f"{folder}: model folder not found")
        onnx_path = folder / "model.onnx"
        if runtime == "onnx" or (runtime == "auto" and onnx_path.exists()):
            model, config, shapes = _load_onnx(folder, onnx_path)
        else:
            model, config, shapes = _load_keras(folder)
        if "profile" not in config or "kind" not in config:
            raise PredictError(f"{folder / 'config.json'}: missing 'profile' or 'kind'")
        profile = Profile.from_dict(config["profile"])
        expected = {
            "spectrogram": tuple(profile.features.spectrogram_shape),
            "waveform": tuple(profile.features.waveform_shape),
        }
        for name, shape in shapes.items():
            if name in expected and shape != expected[name]:
                raise PredictError(
                    f"{folder}: model input {name!r} has shape {shape} but the stored "
                    f"profile gives {expected[name]}; the model does not fit its configuration"
                )
        if runtime == "auto" and not onnx_path.exists():
            # said only once the folder is known to be usable: errors stay one line
            print(f"audiofuse: note: {folder} has no model.onnx; using Keras "
                  "(slow start; export with audiofuse export)", file=sys.stderr)
        threshold = config.get("threshold", 0.5)
        calibration = config.get("calibration")
        return cls(model, profile, config["kind"], threshold, str(folder), calibration)

    def predict_samples(
        self, samples: np.ndarray, *, full_recording: bool = True, calibrated: bool = True
    ) -> dict:
        """P(abnormal) for samples already at ``profile.features.sample_rate``.

        With a stored Platt ``calibration`` (and ``calibrated``), the mean
        window score is mapped through it; the threshold is on that scale.
        ``p_abnormal_raw`` is always the uncalibrated mean.
        """
        from audiofuse.features.extract import clip_features, fix_length, window_starts

        cfg = self.profile.features
        starts = window_starts(len(samples), cfg) if full_recording else np.array([0])
        scores = []
        for i in range(0, len(starts), WINDOW_BATCH):
            # featurize and score one batch at a time: memory does not grow with length
            pairs = [
                clip_features(fix_length(samples, cfg.clip_samples, int(s)), cfg)
                for s in starts[i : i + WINDOW_BATCH]
            ]
            spec = np.stack([p[0] for p in pairs])
            wave = np.stack([p[1] for p in pairs])
            inputs = {}
            if self.kind in ("fusion", "spectrogram"):
                inputs["spectrogram"] = spec[..., None]
            if self.kind in ("fusion", "waveform"):
                inputs["waveform"] = wave[..., None]
            scores.append(np.asarray(self.model.predict_on_batch(inputs)).reshape(-1))
        window_scores = np.concatenate(scores)
        raw = float(window_scores.mean())
        p = raw
        if calibrated and self.calibration:
            from audiofuse.evaluation.calibration import apply_platt

            c = self.calibration
            p = float(apply_platt(raw, c["a"], c["b"]))
            window_scores = apply_platt(window_scores, c["a"], c["b"])
        return {
            "p_abnormal": round(p, 4),
            "p_abnormal_raw": round(raw, 6),
            "label": "abnormal" if p >= self.threshold else "normal",
            "threshold": round(self.threshold, 4),
            "windows": int(len(window_scores)),
            "window_p_abnormal": [round(float(s), 4) for s in window_scores],
            "window_start_s": [round(int(s) / cfg.sample_rate, 3) for s in starts],
            "window_seconds": cfg.clip_seconds,
        }

    def predict_file(
        self,
        path: str | os.PathLike,
        *,
        full_recording: bool = True,
        calibrated: bool = True,
        plot_dir: str | os.PathLike | None = None,
    ) -> dict:
        """Score one audio file; :class:`PredictError` names the file on failure.

        With ``plot_dir``, also write ``plot_dir/<file stem>.png`` (see
        :func:`audiofuse.predict.plot.plot_prediction`).
        """
        t0 = time.perf_counter()
        cfg = self.profile.features
        from .quality import assess, declared_wav_frames

        try:
            samples, native = _read_at_rate(path, cfg, full_recording)
        except AudioError as err:
            raise PredictError(str(err)) from None
        declared = declared_wav_frames(path) if full_recording else None
        quality = assess(samples, cfg.sample_rate, declared_frames=declared, native=native)
        result = self.predict_samples(
            samples, full_recording=full_recording, calibrated=calibrated
        )
        if not quality.ok:
            # the model gives a number for anything; a failed gate means do not trust it
            result["label"] = "unsure"
        result = {
            "file": str(path),
            "duration_s": round(len(samples) / cfg.sample_rate, 2),
            **result,
            "quality": "ok" if quality.ok else quality.reason,
            "model": self.source,
            "seconds": round(time.perf_counter() - t0, 4),
        }
        if plot_dir is not None:
            from audiofuse.predict.plot import plot_prediction

            png = Path(plot_dir) / f"{Path(path).stem}.png"
            result["plot"] = str(plot_prediction(samples, cfg.sample_rate, result, png))
        return result

    def __repr__(self) -> str:
        return (
            f"Predictor(kind={self.kind!r}, profile={self.profile.name!r}, "
            f"threshold={self.threshold:.3f}, source={self.source!r})"
        )


def _load_keras(folder: Path):
    from audiofuse.data.splits import TrainingError
    from audiofuse.model.training import load_trained

    try:
        model, config = load_trained(folder)
    except TrainingError as err:
        raise PredictError(str(err)) from None
    shapes = {t.name.split(":")[0]: tuple(t.shape[1:]) for t in model.inputs}
    return model, config, shapes


def _load_onnx(folder: Path, onnx_path: Path):
    from audiofuse.predict.onnx import OnnxModel

    try:
        config = read_json_object(folder / "config.json")
    except ValueError as err:
        raise PredictError(str(err)) from None
    try:
        model = OnnxModel(onnx_path)
    except Exception as err:  # onnxruntime raises its own types; all mean unusable
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise PredictError(f"{onnx_path}: cannot load ({reason})") from None
    return model, config, model.input_shapes


def _read_at_rate(path, cfg, full_recording: bool) -> tuple[np.ndarray, tuple[int, int, float]]:
    """The recording at the profile's rate, read and resampled in blocks.

    Memory holds the resampled signal (58 MB for 2 h at 2 kHz) and one native
    block, never the whole native file (1.3 GB for 2 h at 44.1 kHz as float32).
    Two passes: the first finds the native peak, which the clipping measure
    needs before it can count samples near it.

    Returns
    -------
    samples : np.ndarray
        All of the recording, or its first clip only (``full_recording`` False).
    native : (frames, rate, clipped fraction)
        For :func:`audiofuse.predict.quality.assess`.
    """
    limit = None if full_recording else cfg.clip_seconds + 0.05

    def blocks():
        read = 0
        for block, rate in iter_audio_blocks(path):
            if limit is not None:
                block = block[: max(0, int(np.ceil(limit * rate)) - read)]
            read += len(block)
            if len(block):
                yield block, rate

    peak, frames, rate = 0.0, 0, None
    for block, block_rate in blocks():
        peak, frames, rate = max(peak, float(np.max(np.abs(block)))), frames + len(block), block_rate
    at_peak = 0
    resampler = _Resampler(rate, cfg)
    pieces = []
    for block, _ in blocks():
        if peak >= 0.95:  # quality.clipped_fraction's rule, counted block by block
            at_peak += int(np.count_nonzero(np.abs(block) >= 0.999 * peak))
        pieces.append(resampler(block, last=False))
    pieces.append(resampler(np.zeros(0, np.float32), last=True))
    clipped = at_peak / frames if peak >= 0.95 else 0.0
    return np.concatenate(pieces).astype(np.float32), (frames, rate, clipped)


class _Resampler:
    """Streaming resampler to the profile's rate (identity when the rates match)."""

    def __init__(self, rate: int, cfg):
        self.same = rate == cfg.sample_rate
        self.pending = []
        if self.same:
            return
        if cfg.resample_type.startswith("soxr_"):
            # what librosa.resample does for soxr_*, without importing librosa.core
            # (numba, scipy.signal: tens of seconds on a cold, loaded machine)
            import soxr

            quality = cfg.resample_type.split("_", 1)[1].upper()
            self.stream = soxr.ResampleStream(rate, cfg.sample_rate, 1, "float32", quality)
        else:  # other resamplers have no streaming form: collect, then resample once
            self.stream = None
            self.rate, self.cfg = rate, cfg

    def __call__(self, block: np.ndarray, *, last: bool) -> np.ndarray:
        if self.same:
            return block
        if self.stream is not None:
            return self.stream.resample_chunk(block, last=last)
        self.pending.append(block)
        if not last:
            return np.zeros(0, np.float32)
        from audiofuse.data.audio import resample

        return resample(
            np.concatenate(self.pending), self.rate, self.cfg.sample_rate, self.cfg.resample_type
        )


def write_model_card(folder: str | os.PathLike, payload: dict) -> None:
    """Merge ``payload`` (threshold, metrics, provenance) into ``config.json``."""
    from audiofuse.files import write_text_atomic

    path = Path(folder) / "config.json"
    config = read_json_object(path) if path.exists() else {}
    config.update(payload)
    write_text_atomic(path, json.dumps(config, indent=2, default=str))
