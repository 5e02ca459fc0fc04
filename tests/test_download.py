"""Tests of audiofuse.data.download against a local HTTP server (no internet needed)."""

from __future__ import annotations

import hashlib
import io
import re
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiofuse.data import download as dl
from audiofuse.data.indexes import index_pascal, index_physionet

PHYSIONET_ZIP = dl.SOURCES["physionet2016"].archives[0].filename
PHYSIONET_TOP = PHYSIONET_ZIP.removesuffix(".zip")


# --------------------------------------------------------------------------
# A tiny HTTP server with Range support and one-shot cut-offs
# --------------------------------------------------------------------------


class RangeHandler(BaseHTTPRequestHandler):
    """Serves ``server.files`` (name -> bytes) with ``Range: bytes=N-`` support."""

    def do_GET(self):
        server = self.server
        name = self.path.lstrip("/")
        range_header = self.headers.get("Range")
        server.requests.append((name, range_header))
        data = server.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if range_header and not server.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", range_header).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in server.cut_once:  # simulate a dropped connection half-way
            server.cut_once.discard(name)
            body = body[: len(body) // 2]
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.files, httpd.requests, httpd.cut_once, httpd.ignore_range = {}, [], set(), False
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


# --------------------------------------------------------------------------
# Tiny archives
# --------------------------------------------------------------------------


def _wav_bytes(seed: int, rate: int = 2000, seconds: float = 0.25) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    samples = (rng.standard_normal(int(rate * seconds)) * 0.1).astype(np.float32)
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def physionet_entries(*, corrupt: str | None = None) -> dict[str, bytes]:
    """A PhysioNet-like tree under the official top-level folder."""
    wavs = {f"a000{i}.wav": _wav_bytes(i) for i in (1, 2, 3)}
    reference = b"a0001,1\na0002,-1\na0003,-1\n"
    listed = {**wavs, "REFERENCE.csv": reference}
    sums = "".join(f"{_sha(data)}  {name}\n" for name, data in listed.items())
    if corrupt:
        wavs[corrupt] = _wav_bytes(99)  # content differs from its SHA256SUMS line
    validation_ref = b"a0001,1\n"
    top = PHYSIONET_TOP
    entries = {f"{top}/training-a/{name}": data for name, data in wavs.items()}
    entries[f"{top}/training-a/REFERENCE.csv"] = reference
    entries[f"{top}/training-a/SHA256SUMS"] = sums.encode()
    entries[f"{top}/validation/REFERENCE.csv"] = validation_ref
    entries[f"{top}/validation/a0001.wav"] = wavs["a0001.wav"]
    entries[f"{top}/SHA256SUMS.txt"] = (
        f"{_sha(validation_ref)}  validation/REFERENCE.csv\n"
        f"{'0' * 64}  training-z/not-in-this-zip.wav\n"
    ).encode()
    return entries


@pytest.fixture
def physionet(server):
    """Serve the PhysioNet-like zip; return (zip bytes, sources with its hash)."""
    data = _zip(physionet_entries())
    server.files[PHYSIONET_ZIP] = data
    source = dl.SOURCES["physionet2016"].with_sha256({PHYSIONET_ZIP: _sha(data)})
    return data, {"physionet2016": source}


def _get(server, dest, sources, **kwargs):
    return dl.download_dataset(
        "physionet2016", dest, base_url=server.base_url, progress=False, sources=sources, **kwargs
    )


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def test_registry_describes_both_datasets():
    for name in ("physionet2016", "pascal"):
        source = dl.SOURCES[name]
        assert source.folder == name
        assert source.archives and source.homepage.startswith("http")
        assert source.licence and source.citation and "{dest}" in source.manual
    assert PHYSIONET_ZIP.startswith("classification-of-heart-sound-recordings")
    assert "kinguistics/heartbeat-sounds" in dl.SOURCES["pascal"].manual


def test_physionet_download_verify_extract(server, physionet, tmp_path):
    data, sources = physionet
    dest = tmp_path / "data"
    path = _get(server, dest, sources)

    assert path == dest / "physionet2016"
    assert (path / "training-a" / "a0001.wav").is_file()
    assert (path / "validation" / "REFERENCE.csv").is_file()
    assert not (path / PHYSIONET_TOP).exists()
    assert dl.is_complete(path, sources["physionet2016"])
    assert server.requests == [(PHYSIONET_ZIP, None)]
    # archives removed after success, no temporary folders left behind
    assert not (dest / dl.DOWNLOADS_DIRNAME).exists()
    assert sorted(p.name for p in dest.iterdir()) == ["physionet2016"]

    table = index_physionet(path)
    assert len(table) == 3
    assert table.set_index("record").loc["a0001", "split"] == "test"
    assert table["label"].tolist() == [1, 0, 0]


def test_second_call_is_a_no_op_unless_forced(server, physionet, tmp_path):
    _, sources = physionet
    path = _get(server, tmp_path, sources)
    marker = (path / dl.MARKER_NAME).read_text()
    assert _get(server, tmp_path, sources) == path
    assert len(server.requests) == 1
    assert (path / dl.MARKER_NAME).read_text() == marker

    _get(server, tmp_path, sources, force=True)
    assert len(server.requests) == 2
    assert (path / "training-a" / "a0002.wav").is_file()


def test_resume_after_interrupted_transfer(server, physionet, tmp_path):
    data, sources = physionet
    server.cut_once.add(PHYSIONET_ZIP)
    path = _get(server, tmp_path, sources)

    assert len(server.requests) == 2
    assert server.requests[0] == (PHYSIONET_ZIP, None)
    assert server.requests[1] == (PHYSIONET_ZIP, f"bytes={len(data) // 2}-")
    assert (path / "training-a" / "a0003.wav").is_file()


def test_resume_from_part_file_of_earlier_run(server, physionet, tmp_path):
    data, sources = physionet
    part = tmp_path / dl.DOWNLOADS_DIRNAME / f"{PHYSIONET_ZIP}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:100])
    _get(server, tmp_path, sources, keep_archives=True)

    assert server.requests == [(PHYSIONET_ZIP, "bytes=100-")]
    assert (tmp_path / dl.DOWNLOADS_DIRNAME / PHYSIONET_ZIP).read_bytes() == data
    assert not part.exists()


def test_server_ignoring_range_restarts_cleanly(server, physionet, tmp_path):
    data, sources = physionet
    server.ignore_range = True
    part = tmp_path / dl.DOWNLOADS_DIRNAME / f"{PHYSIONET_ZIP}.part"
    part.parent.mkdir(parents=True)
    garbage = b"garbage that must not end up in the archive"
    part.write_bytes(garbage)
    _get(server, tmp_path, sources, keep_archives=True)

    assert server.requests == [(PHYSIONET_ZIP, f"bytes={len(garbage)}-")]
    assert (tmp_path / dl.DOWNLOADS_DIRNAME / PHYSIONET_ZIP).read_bytes() == data


def test_stale_part_file_answered_416_restarts(server, physionet, tmp_path):
    data, sources = physionet
    part = tmp_path / dl.DOWNLOADS_DIRNAME / f"{PHYSIONET_ZIP}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data + b"extra")
    _get(server, tmp_path, sources)
    assert [r[1] for r in server.requests] == [f"bytes={len(data) + 5}-", None]


def test_archive_checksum_mismatch(server, physionet, tmp_path):
    _, sources = physionet
    bad = {"physionet2016": sources["physionet2016"].with_sha256({PHYSIONET_ZIP: "0" * 64})}
    with pytest.raises(dl.DownloadError) as info:
        _get(server, tmp_path, bad)
    message = str(info.value)
    assert "SHA-256 mismatch" in message
    assert f"{server.base_url}/{PHYSIONET_ZIP}" in message and PHYSIONET_ZIP in message
    assert "\n" not in message
    downloads = tmp_path / dl.DOWNLOADS_DIRNAME
    assert not downloads.exists() or not any(downloads.iterdir())  # no archive, no .part
    assert not (tmp_path / "physionet2016").exists()


def test_sha256sums_mismatch_inside_archive(server, tmp_path):
    data = _zip(physionet_entries(corrupt="a0002.wav"))
    server.files[PHYSIONET_ZIP] = data
    with pytest.raises(dl.DownloadError, match=r"training-a/a0002\.wav") as info:
        dl.download_dataset("physionet2016", tmp_path, base_url=server.base_url, progress=False)
    assert "SHA256SUMS" in str(info.value)
    assert not (tmp_path / "physionet2016").exists()
    assert not (tmp_path / dl.DOWNLOADS_DIRNAME / PHYSIONET_ZIP).exists()
    assert [p.name for p in tmp_path.iterdir()] == [dl.DOWNLOADS_DIRNAME]


def test_unreachable_host_gives_one_line_error(tmp_path):
    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with pytest.raises(dl.DownloadError) as info:
        dl.download_dataset("physionet2016", tmp_path, base_url=base, progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot reach {base}/{PHYSIONET_ZIP} (")
    assert f"unpack it into {tmp_path / 'physionet2016'}" in message
    assert 'docs/reproducing.md, "Real data"' in message  # the section that says how
    reproducing = Path(__file__).resolve().parents[1] / "docs" / "reproducing.md"
    assert "\n## Real data\n" in reproducing.read_text()
    assert not any(tmp_path.iterdir())  # no target, no empty .downloads


def test_base_url_from_environment(server, physionet, tmp_path, monkeypatch):
    _, sources = physionet
    monkeypatch.setenv(dl.BASE_URL_ENV, server.base_url + "/")
    path = dl.download_dataset("physionet2016", tmp_path, progress=False, sources=sources)
    assert (path / "training-a" / "REFERENCE.csv").is_file()
    assert dl.archive_url(sources["physionet2016"].archives[0]) == (
        f"{server.base_url}/{PHYSIONET_ZIP}"
    )


def test_http_error_names_url(server, tmp_path):
    with pytest.raises(dl.DownloadError, match=r"cannot reach .*\(HTTP 404"):
        dl.download_dataset("physionet2016", tmp_path, base_url=server.base_url, progress=False)


def test_existing_foreign_folder_is_not_overwritten(server, physionet, tmp_path):
    _, sources = physionet
    mine = tmp_path / "physionet2016" / "my-notes.txt"
    mine.parent.mkdir()
    mine.write_text("keep me")
    with pytest.raises(dl.DownloadError, match="already exists"):
        _get(server, tmp_path, sources)
    assert mine.read_text() == "keep me" and server.requests == []
    path = _get(server, tmp_path, sources, force=True)
    assert not mine.exists() and (path / "training-a").is_dir()


@pytest.mark.parametrize(
    "evil", ["../evil.txt", "/tmp/audiofuse-evil.txt", "ok/../../evil.txt", "..\\evil.txt"]
)
def test_zip_slip_is_rejected(tmp_path, evil):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(_zip({"fine/a.txt": b"a", evil: b"pwned"}))
    dest = tmp_path / "out" / "inner"
    with pytest.raises(dl.DownloadError, match="unsafe path"):
        dl.extract_archive(archive, dest)
    assert not (tmp_path / "out" / "evil.txt").exists()
    assert not (dest / "fine" / "a.txt").exists()  # checked before anything is written


def test_zip_slip_download_leaves_nothing(server, tmp_path):
    data = _zip({f"{PHYSIONET_TOP}/training-a/REFERENCE.csv": b"x,1\n", "../../evil.txt": b"!"})
    server.files[PHYSIONET_ZIP] = data
    with pytest.raises(dl.DownloadError, match="zip-slip"):
        dl.download_dataset(
            "physionet2016", tmp_path / "data", base_url=server.base_url, progress=False
        )
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "data" / "physionet2016").exists()
    assert not any((tmp_path / "data" / dl.DOWNLOADS_DIRNAME).iterdir())  # bad zip deleted
    assert [p.name for p in (tmp_path / "data").iterdir()] == [dl.DOWNLOADS_DIRNAME]


def _tar_gz(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file_info(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def test_tar_gz_extracts_and_rejects_links_and_escapes(tmp_path):
    good = _tar_gz(tmp_path / "good.tar.gz", [_file_info("top/training-a/x.txt", b"x")])
    dl.extract_archive(good, tmp_path / "good")
    assert (tmp_path / "good" / "top" / "training-a" / "x.txt").read_bytes() == b"x"

    escape = _tar_gz(tmp_path / "escape.tar.gz", [_file_info("../evil.txt", b"!")])
    with pytest.raises(dl.DownloadError, match="unsafe path"):
        dl.extract_archive(escape, tmp_path / "escape")

    link = tarfile.TarInfo("top/link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    linked = _tar_gz(tmp_path / "link.tar.gz", [(link, None)])
    with pytest.raises(dl.DownloadError, match="link or special file"):
        dl.extract_archive(linked, tmp_path / "link")
    assert not (tmp_path / "link" / "top" / "link").exists()


def test_check_sha256sums_reports(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.bin").write_bytes(b"a")
    (tmp_path / "sub" / "b.bin").write_bytes(b"b")
    (tmp_path / "sub" / "SHA256SUMS").write_text(
        f"{_sha(b'a')}  a.bin\n{_sha(b'x')} *b.bin\n{_sha(b'c')}  c.bin\nnot a line\n"
    )
    report = dl.check_sha256sums(tmp_path)
    assert (report.sums_files, report.verified, report.missing) == (1, 1, 1)
    assert report.mismatched == ["sub/b.bin"]


def test_pascal_original_archives(server, tmp_path):
    """Every PASCAL archive unpacks into its own folder that index_pascal reads."""
    expected = {}
    for i, archive in enumerate(dl.SOURCES["pascal"].archives):
        inner = archive.filename.removesuffix(".zip")
        if inner == "Btraining_normal":
            inner = "Training B Normal"  # as in the real archive
        entries = {
            f"{inner}/2011010{i}.wav": _wav_bytes(i),
            f"__MACOSX/{inner}/._2011010{i}.wav": b"\x00\x05\x16\x07junk",
        }
        if archive.subdir == "Btraining_normal":
            entries[f"{inner}/Btraining_noisynormal/noisy_{i}.wav"] = _wav_bytes(50 + i)
        server.files[archive.filename] = _zip(entries)
        expected[archive.subdir] = f"2011010{i}"

    path = dl.download_dataset("pascal", tmp_path, base_url=server.base_url, progress=False)

    assert path == tmp_path / "pascal"
    assert len(server.requests) == len(dl.SOURCES["pascal"].archives)
    for subdir, stem in expected.items():
        assert (path / subdir / f"{stem}.wav").is_file()
    assert (path / "Btraining_normal" / "Btraining_noisynormal").is_dir()
    assert not list(path.rglob("__MACOSX")) and not list(path.rglob("._*"))
    table = index_pascal(path).set_index("record")
    assert table.loc[expected["Atraining_extrahls"], "original_class"] == "extrahls"
    assert table.loc[expected["Btraining_extrastole"], "original_class"] == "extrastole"
    assert table.loc[expected["Btraining_normal"], "label"] == 0
    assert table.loc[expected["Atraining_murmur"], "label"] == 1


# --------------------------------------------------------------------------
# Zip-bomb guard (issue 13, section 8)
# --------------------------------------------------------------------------


def test_archive_unpacking_past_the_size_limit_is_refused(tmp_path):
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(_zip({"zeros.bin": bytes(20 * 1024 * 1024)}))  # 20 MB -> ~20 kB
    assert archive.stat().st_size < 100_000
    with pytest.raises(dl.DownloadError, match="over the 0.01 GB limit"):
        dl.extract_archive(archive, tmp_path / "out", max_unpacked_bytes=10_000_000)
    assert not any((tmp_path / "out").iterdir())  # refused before writing anything
    tar = _tar_gz(tmp_path / "bomb.tar.gz", [_file_info("zeros.bin", bytes(2_000_000))])
    with pytest.raises(dl.DownloadError, match="zip bomb"):
        dl.extract_archive(tar, tmp_path / "out-tar", max_unpacked_bytes=1_000_000)
    # under the limit it unpacks
    dl.extract_archive(archive, tmp_path / "fine", max_unpacked_bytes=30_000_000)
    assert (tmp_path / "fine" / "zeros.bin").stat().st_size == 20 * 1024 * 1024


def test_download_of_an_oversized_archive_is_refused(server, physionet, tmp_path, monkeypatch):
    data, sources = physionet
    unpacked = sum(len(v) for v in physionet_entries().values())
    monkeypatch.setattr(dl.archives, "MAX_UNPACKED_BYTES", unpacked - 1)
    with pytest.raises(dl.DownloadError, match="zip bomb") as err:
        _get(server, tmp_path / "data", sources)
    assert "\n" not in str(err.value) and "was deleted" in str(err.value)
    assert not (tmp_path / "data" / "physionet2016").exists()
    monkeypatch.setattr(dl.archives, "MAX_UNPACKED_BYTES", unpacked)
    assert (_get(server, tmp_path / "data", sources) / "training-a" / "REFERENCE.csv").exists()


def test_download_help_says_exactly_what_is_verified(capsys):
    from audiofuse.cli.main import main

    with pytest.raises(SystemExit):
        main(["data", "download", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "verifies checksums" not in text
    assert "SHA256SUMS files inside its zip" in text and "PASCAL publishes no sums" in text
