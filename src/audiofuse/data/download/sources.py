"""The dataset registry: where each dataset's archives are published and what is known of them."""

from __future__ import annotations

import dataclasses
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Archive:
    """One downloadable file of a dataset.

    Attributes
    ----------
    url : str
        Where the archive is published.
    sha256 : str or None
        Expected SHA-256 (hex) of the archive, or None where it is not known.
    subdir : str
        Folder, relative to the dataset folder, that receives the archive's
        contents; ``""`` is the dataset folder itself.
    """

    url: str
    sha256: str | None = None
    subdir: str = ""

    @property
    def filename(self) -> str:
        """The archive's file name, taken from the URL path."""
        path = urllib.parse.urlparse(self.url).path
        return urllib.parse.unquote(PurePosixPath(path).name)


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset comes from and how its unpacked layout is checked.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"physionet2016"``.
    title : str
        Human-readable name.
    folder : str
        Subfolder of the data directory that receives the dataset.
    archives : tuple of Archive
        The files to download.
    homepage : str
        The dataset's official page.
    licence : str
        Licence / terms of use, as published by the source.
    citation : str
        What to cite when using the data.
    manual : str
        How to obtain the data by hand (``{dest}`` is the dataset folder).
    layout_glob : str
        Glob, relative to the dataset folder, that must match at least one
        file once everything is unpacked.
    expects_sha256sums : bool
        Warn when the unpacked tree holds no ``SHA256SUMS`` file to check.
    """

    name: str
    title: str
    folder: str
    archives: tuple[Archive, ...]
    homepage: str
    licence: str
    citation: str
    manual: str = ""
    layout_glob: str = "**/*.wav"
    expects_sha256sums: bool = False

    def with_sha256(self, hashes: Mapping[str, str | None]) -> DatasetSource:
        """Copy with the expected hashes of some archives replaced.

        Parameters
        ----------
        hashes : mapping
            Archive file name -> SHA-256 hex digest (or None).
        """
        archives = tuple(
            dataclasses.replace(a, sha256=hashes[a.filename]) if a.filename in hashes else a
            for a in self.archives
        )
        return dataclasses.replace(self, archives=archives)


_PHYSIONET_ZIP = (
    "https://physionet.org/static/published-projects/challenge-2016/"
    "classification-of-heart-sound-recordings-the-physionet-computing-in-cardiology-"
    "challenge-2016-1.0.0.zip"
)
_PASCAL_BASE = "http://www.peterjbentley.com/heartchallenge/wav"
# archive file -> folder it is unpacked into. The folder names follow the class
# names audiofuse.data.indexes.PASCAL_CLASSES uses (the zips say "extrahs" and
# "extrasystole"). The unlabelled test archives are left out: nothing reads them.
_PASCAL_ARCHIVES = {
    "Atraining_normal.zip": "Atraining_normal",
    "Atraining_murmur.zip": "Atraining_murmur",
    "Atraining_extrahs.zip": "Atraining_extrahls",
    "Atraining_artifact.zip": "Atraining_artifact",
    "Btraining_normal.zip": "Btraining_normal",
    "Btraining_murmur.zip": "Btraining_murmur",
    "Btraining_extrasystole.zip": "Btraining_extrastole",
}

SOURCES: dict[str, DatasetSource] = {
    "physionet2016": DatasetSource(
        name="physionet2016",
        title="Classification of Heart Sound Recordings: "
        "The PhysioNet/Computing in Cardiology Challenge 2016 (v1.0.0)",
        folder="physionet2016",
        # PhysioNet publishes no hash of the zip; the SHA256SUMS inside it are
        # checked after unpacking instead.
        archives=(Archive(_PHYSIONET_ZIP, sha256=None),),
        homepage="https://physionet.org/content/challenge-2016/1.0.0/",
        licence="Open Data Commons Attribution License v1.0 (ODC-By 1.0)",
        citation=(
            "Liu C, Springer D, Li Q, et al. An open access database for the evaluation "
            "of heart sound algorithms. Physiol Meas. 2016;37(12):2181-2213. "
            "doi:10.1088/0967-3334/37/12/2181. "
            "Clifford GD, Liu C, Moody B, et al. Classification of normal/abnormal heart "
            "sound recordings: the PhysioNet/Computing in Cardiology Challenge 2016. "
            "Computing in Cardiology 2016;43:609-612. "
            "Goldberger AL, Amaral LAN, Glass L, et al. PhysioBank, PhysioToolkit, and "
            "PhysioNet. Circulation 2000;101(23):e215-e220."
        ),
        manual=(
            "Download the zip from https://physionet.org/content/challenge-2016/1.0.0/ "
            "(or: wget -r -N -c -np https://physionet.org/files/challenge-2016/1.0.0/) "
            "and unpack it so that {dest}/training-a/REFERENCE.csv and "
            "{dest}/validation/REFERENCE.csv exist."
        ),
        layout_glob="training-*/REFERENCE.csv",
        expects_sha256sums=True,
    ),
    "pascal": DatasetSource(
        name="pascal",
        title="PASCAL Classifying Heart Sounds Challenge 2011 (CHSC2011), datasets A and B",
        folder="pascal",
        archives=tuple(
            Archive(f"{_PASCAL_BASE}/{file}", sha256=None, subdir=subdir)
            for file, subdir in _PASCAL_ARCHIVES.items()
        ),
        homepage="http://www.peterjbentley.com/heartchallenge/",
        licence=(
            "No explicit licence on the challenge page: the data is offered for research "
            "and the organisers ask that the results page be cited (the Kaggle copy is "
            "marked CC0 by its uploader)."
        ),
        citation=(
            "Bentley P, Nordehn G, Coimbra M, Mannor S. The PASCAL Classifying Heart "
            "Sounds Challenge 2011 (CHSC2011) Results. "
            "http://www.peterjbentley.com/heartchallenge/index.html"
        ),
        manual=(
            "Either download the archives Atraining_*.zip and Btraining_*.zip from "
            "http://www.peterjbentley.com/heartchallenge/ and unpack each into "
            "{dest}/<archive name>/, or use the Kaggle copy: "
            "kaggle datasets download -d kinguistics/heartbeat-sounds -p {dest} --unzip "
            "(needs a Kaggle API token in ~/.kaggle/kaggle.json), which gives "
            "{dest}/set_a/ and {dest}/set_b/."
        ),
        layout_glob="**/*.wav",
    ),
}
