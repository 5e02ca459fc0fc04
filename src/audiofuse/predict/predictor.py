"""Scoring your own recordings with a trained model.

A recording of any length and sample rate is resampled to the model's
profile, cut into 5 s windows that cover all of it, and the model's
P(abnormal) is averaged over the windows. The label uses the decision
threshold stored with the model (chosen on its validation carve-out).

Every input gets one result row: a scored one (label ``normal``,
``abnormal`` or ``unsure`` with its ``reason``) or, from
:func:`error_row`, a failed one (label ``error`` with its ``error``).

A model folder with a ``domain.json`` (:mod:`audiofuse.predict.domain`) also
measures how unlike the training recordings each recording is; one beyond the
stored threshold is labelled ``unsure`` with the reason
``unlike the training recordings``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from audiofuse.config import Profile
from audiofuse.data.audio import AudioError, iter_audio_blocks
from audiofuse.files import read_json_object

__all__ = ["PredictError", "Predictor", "WINDOW_BATCH", "MAX_NONFINITE_FRACTION", "error_row"]

WINDOW_BATCH = 32
"""Windows scored per model call, so memory stays flat with recording length."""


MAX_NONFINITE_FRACTION = 0.5
"""Share of NaN or infinite samples above which nothing usable is left: refused.

Fewer are set to zero and the recording is labelled ``unsure``."""


class PredictError(ValueError):
    """A file or model that cannot be used; the message names it.

    Attributes
    ----------
    path : str or None
        The file or folder it is about, when there is one.
    reason : str
        The message without the path.
    """

    def __init__(self, message: str, *, path: str | os.PathLike | None = None):
        self.path = None if path is None else str(path)
        self.reason = message
        if self.path is not None:
            self.reason = message.removeprefix(f"{self.path}: ")
        super().__init__(message)


def error_row(path: str | os.PathLike, err: Exception, model: str = "") -> dict:
    """The result row of an input that could not be scored: ``error``, no score."""
    reason = (getattr(err, "reason", None) or str(err)).removeprefix(f"{path}: ")
    return {"file": str(path), "label": "error", "error": reason, "model": model}


class Predictor:
    """A trained model plus the profile and threshold it was trained with.

    Parameters
    ----------
    model : keras.Model
    profile : Profile
    kind : {"fusion", "spectrogram", "waveform"}
    threshold : float
        P(abnormal) at or above which a recording is called abnormal.
    source : str
        The model folder.
    calibration : dict, optional
        Platt calibration ``{"a": ..., "b": ...}`` of the mean window score.
    domain : DomainModel, optional
        The training recordings' descriptor statistics
        (:class:`audiofuse.predict.domain.DomainModel`); without them no
        recording is called unlike the training ones.
    ensemble_seeds : int
        How many seeds' models ``model`` averages (0: a single model); for its description.
    """

    def __init__(
        self,
        model,
        profile: Profile,
        kind: str,
        threshold: float = 0.5,
        source: str = "",
        calibration: dict | None = None,
        domain=None,
        ensemble_seeds: int = 0,
    ):
        self.calibration = calibration
        self.ensemble_seeds = ensemble_seeds
        self.domain = domain
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
        from audiofuse.predict.domain import DomainModel

        try:
            domain = DomainModel.load(folder)
        except ValueError as err:
            raise PredictError(str(err)) from None
        seeds = len(config.get("ensemble_seeds", []))
        return cls(
            model, profile, config["kind"], threshold, str(folder), calibration, domain, seeds
        )

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

    @property
    def name(self) -> str:
        """The model folder's name (``audiofuse-plus``), for headers and plots."""
        return Path(self.source).name or self.source

    def describe(self, name: str | None = None) -> str:
        """One line: the model (``name``, default its folder), kind, profile, decision rule."""
        ensemble = f", {self.ensemble_seeds}-seed ensemble" if self.ensemble_seeds else ""
        return (
            f"model {name or _relative_to_cwd(self.source)} ({self.kind}{ensemble}, profile "
            f"{self.profile.name}); abnormal when P(abnormal) >= {round(self.threshold, 4):.3f}"
        )

    def predict_file(
        self,
        path: str | os.PathLike,
        *,
        full_recording: bool = True,
        calibrated: bool = True,
        plot_dir: str | os.PathLike | None = None,
        plot_name: str | None = None,
        display_name: str | None = None,
        max_seconds: float | None = None,
    ) -> dict:
        """Score one audio file; :class:`PredictError` names the file on failure.

        A recording that fails the signal-quality gate, that held NaN or
        infinite samples (set to zero), or that passes the gate but is unlike
        the training recordings (when the model has a ``domain.json``), is
        labelled ``unsure`` and its ``reason`` says why; its ``p_abnormal`` is
        then not a verdict. ``domain_distance`` is the recording's distance
        to the training recordings (``None`` without ``domain.json``).

        Parameters
        ----------
        path : path
            Anything libsndfile reads, or, with ffmpeg on ``PATH``, decodes.
        full_recording : bool
            Score 5 s windows covering all of it (else the first 5 s only).
        calibrated : bool
            Apply the stored Platt calibration.
        plot_dir : path, optional
            Also write ``plot_dir/<plot_name or file stem>.png`` (see
            :func:`audiofuse.predict.plot.plot_prediction`).
        plot_name : str, optional
        display_name : str, optional
            The name the row and any error give the file (default: ``path``),
            e.g. an uploaded file's own name rather than its temporary copy's.
        max_seconds : float, optional
            Refuse longer recordings (:class:`PredictError`), before scoring.
        """
        t0 = time.perf_counter()
        cfg = self.profile.features
        from .quality import assess, declared_wav_frames

        shown = str(path) if display_name is None else display_name
        samples, native, nonfinite, decoder = _read_any(path, cfg, full_recording, shown)
        if max_seconds is not None and native[0] / native[1] > max_seconds:
            raise PredictError(
                f"{shown}: {native[0] / native[1]:.0f} s long, over the limit of {max_seconds:g} s",
                path=shown,
            )
        declared = declared_wav_frames(path) if full_recording and decoder == "libsndfile" else None
        quality = assess(samples, cfg.sample_rate, declared_frames=declared, native=native)
        reasons = list(quality.reasons)
        if nonfinite:
            reasons.insert(
                0, f"{nonfinite} NaN or infinite samples ({nonfinite / native[0]:.2%}) set to zero"
            )
        distance = None
        if self.domain is not None and len(samples):
            from .domain import UNLIKE_TRAINING, describe_recording

            descriptors = describe_recording(samples, cfg.sample_rate, clipped_fraction=native[2])
            distance = self.domain.distance(descriptors)
            # a recording that failed the gate is unsure already; its distance says no more
            if quality.ok and distance > self.domain.threshold:
                reasons.append(UNLIKE_TRAINING)
        result = self.predict_samples(
            samples, full_recording=full_recording, calibrated=calibrated
        )
        if reasons:
            # the model gives a number for anything; a failed gate means do not trust it
            result["label"] = "unsure"
        duration = len(samples) / cfg.sample_rate
        starts = np.asarray(result["window_start_s"], dtype=float)
        # a window's true centre: the middle of the part of it the recording fills
        centres = (starts + np.minimum(starts + cfg.clip_seconds, duration)) / 2
        result = {
            "file": shown,
            "label": result.pop("label"),
            "p_abnormal": result.pop("p_abnormal"),
            "reason": "; ".join(reasons) or None,
            "duration_s": round(duration, 2),
            **result,
            "window_centre_s": [round(float(c), 3) for c in centres],
            "quality": "ok" if quality.ok else quality.reason,
            "domain_distance": None if distance is None else round(distance, 3),
            "nonfinite_samples": int(nonfinite),
            "decoder": decoder,
            "model": self.source,
        }
        if plot_dir is not None:
            from audiofuse.predict.plot import plot_prediction

            png = Path(plot_dir) / f"{plot_name or Path(path).stem}.png"
            result["plot"] = str(
                plot_prediction(samples, cfg.sample_rate, result, png, model=self.describe_short())
            )
        result["elapsed_s"] = round(time.perf_counter() - t0, 4)
        return result

    def describe_short(self) -> str:
        """``audiofuse-plus (fusion, profile cpu), threshold 0.548``: for plot footers."""
        return (
            f"{self.name} ({self.kind}, profile {self.profile.name}), "
            f"threshold {round(self.threshold, 4):.3f}"
        )

    def __repr__(self) -> str:
        return (
            f"Predictor(kind={self.kind!r}, profile={self.profile.name!r}, "
            f"threshold={self.threshold:.3f}, source={self.source!r})"
        )


def _relative_to_cwd(path: str) -> str:
    """``path`` relative to the working directory when it lies below it, else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return path


@contextlib.contextmanager
def _native_stderr_quieted():
    """Keep TensorFlow's native log lines (absl, oneDNN) off the terminal.

    TensorFlow writes them from C++ to file descriptor 2 while it is imported,
    before ``TF_CPP_MIN_LOG_LEVEL`` applies, so only redirecting the
    descriptor hides them. They are replayed when something unexpected fails.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2 (embedded): nothing to quiet
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except PredictError:
            raise
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            sink.seek(0)
            os.write(2, sink.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _load_keras(folder: Path):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _native_stderr_quieted():
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


def _read_any(path, cfg, full_recording: bool, shown: str):
    """:func:`_read_at_rate` with libsndfile, else through ffmpeg; errors name ``shown``.

    Returns
    -------
    samples, native, nonfinite
        As :func:`_read_at_rate`.
    decoder : {"libsndfile", "ffmpeg"}
    """
    from audiofuse.predict.inputs import (
        SNDFILE_SUFFIXES,
        conversion_hint,
        ffmpeg_available,
        ffmpeg_decoded,
    )

    try:
        return (*_read_at_rate(path, cfg, full_recording, shown), "libsndfile")
    except AudioError as err:
        if not err.reason.startswith("cannot decode audio"):
            raise PredictError(f"{shown}: {err.reason}", path=shown) from None
        # libsndfile repeats the path ("Error opening '<path>': ..."): it is named once
        libsndfile_error = re.sub(r"Error opening '.*?': ", "", err.reason)
    if not ffmpeg_available():
        hint = ""
        if Path(path).suffix.lower() not in SNDFILE_SUFFIXES:
            hint = f"; install ffmpeg, or convert it: {conversion_hint(shown)}"
        raise PredictError(f"{shown}: {libsndfile_error}{hint}", path=shown)
    try:
        with ffmpeg_decoded(path) as wav:
            return (*_read_at_rate(wav, cfg, full_recording, shown), "ffmpeg")
    except ValueError as err:  # AudioError or ffmpeg's own failure
        reason = getattr(err, "reason", None) or str(err)
        if reason.startswith("ffmpeg"):
            reason = f"cannot decode audio (libsndfile and {reason})"
        raise PredictError(f"{shown}: {reason}", path=shown) from None


def _read_at_rate(
    path, cfg, full_recording: bool, shown: str | None = None
) -> tuple[np.ndarray, tuple[int, int, float], int]:
    """The recording at the profile's rate, read and resampled in blocks.

    Memory holds the resampled signal (58 MB for 2 h at 2 kHz) and one native
    block, never the whole native file (1.3 GB for 2 h at 44.1 kHz as float32).
    Two passes: the first finds the native peak, which the clipping measure
    needs before it can count samples near it.

    NaN and infinite samples are set to zero and counted; a recording that is
    more than :data:`MAX_NONFINITE_FRACTION` of them is refused.

    Returns
    -------
    samples : np.ndarray
        All of the recording, or its first clip only (``full_recording`` False).
    native : (frames, rate, clipped fraction)
        For :func:`audiofuse.predict.quality.assess`.
    nonfinite : int
        NaN or infinite samples that were set to zero.
    """
    limit = None if full_recording else cfg.clip_seconds + 0.05

    def blocks():
        read = 0
        for block, rate in iter_audio_blocks(path, keep_nonfinite=True):
            if limit is not None:
                block = block[: max(0, int(np.ceil(limit * rate)) - read)]
            read += len(block)
            if len(block):
                finite = np.isfinite(block)
                bad = int(len(block) - np.count_nonzero(finite))
                yield (np.where(finite, block, np.float32(0)) if bad else block), rate, bad

    peak, frames, rate, nonfinite = 0.0, 0, None, 0
    for block, block_rate, bad in blocks():
        peak, frames, rate = max(peak, float(np.max(np.abs(block)))), frames + len(block), block_rate
        nonfinite += bad
    if nonfinite > MAX_NONFINITE_FRACTION * frames:
        raise AudioError(
            shown or path,
            f"{nonfinite} of {frames} samples are NaN or infinite; nothing usable is left",
        )
    at_peak = 0
    resampler = _Resampler(rate, cfg)
    pieces = []
    for block, _, _ in blocks():
        if peak >= 0.95:  # quality.clipped_fraction's rule, counted block by block
            at_peak += int(np.count_nonzero(np.abs(block) >= 0.999 * peak))
        pieces.append(resampler(block, last=False))
    pieces.append(resampler(np.zeros(0, np.float32), last=True))
    clipped = at_peak / frames if peak >= 0.95 else 0.0
    return np.concatenate(pieces).astype(np.float32), (frames, rate, clipped), nonfinite


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
