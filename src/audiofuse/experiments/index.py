"""The results index (``results/README.md``) and the project README's headline block.

Both open with the same verdict: does AudioFuse reproduce the paper? It is
read from the committed real-data tables (``results/real/<profile>/*.csv``),
never typed by hand, so that rebuilding a table rebuilds the headline too.
The project README carries only that verdict (a few sentences, one small
table and one ROC figure); every table lives in ``results/README.md``.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from audiofuse.files import write_text_atomic
from audiofuse.paths import REPO_ROOT

from .context import Context

__all__ = [
    "Headline",
    "read_headline",
    "verdict_markdown",
    "write_results_index",
    "update_readme_headline",
]

README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"

#: The tables of a profile's section, in reading order (others follow by name).
TABLE_ORDER = (
    "main_comparison",
    "baselines",
    "test_selection",
    "branch_knockouts",
    "pascal_robustness",
    "vit_sweep",
    "fusion_ablation",
    "balance_ablation",
    "plus_ladder",
    "plus_pascal",
    "loso",
    "robust_default",
    "model_card_audiofuse-short-ensemble",
    "model_card_audiofuse-plus",
    "optimisation_ablation",
    "data_physionet2016",
)

#: Real-data profiles in the order the headline and the index show them: the
#: paper's own setting first.
PROFILE_ORDER = ("paper", "cpu", "plus")

#: One line on each real-data profile, for the headline table's note.
PROFILE_NOTES = {
    "paper": "the paper's setting (22.05 kHz, 224×224 log-Mel, ViT 6×8 w192; trained on a GPU)",
    "cpu": "a PCG-native version of it for a 2-core CPU (2 kHz, 64×128 log-Mel, smaller ViT)",
}

#: What sets a table apart when its title repeats another's in the same section.
TITLE_QUALIFIERS = {"plus_pascal": "the AudioFuse+ ladder's models"}

FUSION = "AudioFuse (fusion)"
CLASSICAL = "Classical (HistGradientBoosting)"
SUBSET_BALANCED = f"{FUSION}, classes balanced within each subset"
HEADLINE_EVALUATION = "first_5s"
HEADLINE_FIGURE = "roc_main_comparison_first_5s.png"


def _read_table_csv(path: Path) -> tuple[dict, pd.DataFrame]:
    """A table written by :func:`audiofuse.reporting.provenance.write_table`: its provenance and its rows."""
    lines = path.read_text().splitlines(keepends=True)
    header = list(itertools.takewhile(lambda line: line.startswith("# "), lines))
    prov = {key.strip(): value.strip() for key, _, value in (h[2:].partition(":") for h in header)}
    body = "".join(lines[len(header) :])
    if not body.strip():
        return prov, pd.DataFrame()
    return prov, pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)


def _row(table: pd.DataFrame, model: str, evaluation: str = HEADLINE_EVALUATION) -> dict | None:
    """The row of ``model`` under ``evaluation``, as a dict of strings, or None."""
    model_column = next((c for c in table.columns if c.startswith("model")), None)
    if model_column is None or "evaluation" not in table.columns:
        return None
    hit = table[(table[model_column] == model) & (table["evaluation"] == evaluation)]
    return None if hit.empty else hit.iloc[0].to_dict()


@dataclass(frozen=True)
class Score:
    """One headline cell: a test ROC-AUC as the table prints it, and its seeds."""

    text: str
    seeds: int
    ci: str = ""

    @property
    def mean(self) -> float:
        """The mean over seeds (the number before any ``±``)."""
        return float(self.text.split("±")[0])

    def cell(self, planned_seeds: int) -> str:
        """The value with its seed count; fewer seeds than planned are said to be so far."""
        seeds = f"{self.seeds} seed{'s' if self.seeds != 1 else ''}"
        if self.seeds < planned_seeds:
            seeds += " so far"
        ci = f"; 95 % CI of the first seed {self.ci.strip('[]').replace(', ', '–')}"
        return f"{self.text} ({seeds}{ci if self.ci else ''})"


def _score(row: dict | None, *, with_ci: bool = False) -> Score | None:
    if row is None or not row.get("ROC-AUC"):
        return None
    ci = row.get("ROC-AUC 95% CI (seed 1)", "") if with_ci else ""
    return Score(row["ROC-AUC"], int(float(row.get("seeds") or 1)), ci)


@dataclass(frozen=True)
class ProfileHeadline:
    """The headline numbers of one real-data profile (first 5 s, PhysioNet test list)."""

    profile: str
    planned_seeds: int
    faithful: Score
    subset_balanced: Score | None
    classical: Score | None
    paper: float | None
    n_test: str


@dataclass(frozen=True)
class Headline:
    """The verdict's numbers for every real-data profile that has a main table."""

    profiles: tuple[ProfileHeadline, ...]
    figure: Path | None

    @property
    def lead(self) -> ProfileHeadline:
        """The profile the verdict is about: the paper's own setting when it exists."""
        return self.profiles[0]


def _profile_headline(folder: Path) -> ProfileHeadline | None:
    main = folder / "main_comparison.csv"
    if not main.exists():
        return None
    prov, table = _read_table_csv(main)
    fusion = _row(table, FUSION)
    faithful = _score(fusion, with_ci=True)
    if faithful is None:
        return None
    paper = fusion.get("paper ROC-AUC", "")
    balanced = None
    if (folder / "balance_ablation.csv").exists():
        _, balance = _read_table_csv(folder / "balance_ablation.csv")
        balanced = _score(_row(balance, SUBSET_BALANCED))
    main_md = folder / "main_comparison.md"
    n_test = re.search(r"\((\d+) records\)", main_md.read_text() if main_md.exists() else "")
    return ProfileHeadline(
        profile=folder.name,
        planned_seeds=len([s for s in prov.get("seeds", "").split(",") if s.strip()]) or 1,
        faithful=faithful,
        subset_balanced=balanced,
        classical=_score(_row(table, CLASSICAL)),
        paper=float(paper) if paper else None,
        n_test=n_test.group(1) if n_test else "",
    )


def read_headline(results_root: str | Path) -> Headline | None:
    """The verdict's numbers from ``results_root/real/<profile>/``; None without real results."""
    real = Path(results_root) / "real"
    folders = sorted(
        (p for p in real.glob("*") if p.is_dir()),
        key=lambda p: (PROFILE_ORDER.index(p.name) if p.name in PROFILE_ORDER else 99, p.name),
    )
    profiles = tuple(h for h in map(_profile_headline, folders) if h is not None)
    if not profiles:
        return None
    figure = next(
        (
            real / h.profile / "figures" / HEADLINE_FIGURE
            for h in profiles
            if (real / h.profile / "figures" / HEADLINE_FIGURE).exists()
        ),
        None,
    )
    return Headline(profiles, figure)


def _verdict_sentences(lead: ProfileHeadline) -> list[str]:
    """The answer in words, each claim decided by the numbers it states."""
    faithful, paper = lead.faithful, lead.paper
    seeds = f"{faithful.seeds} seed{'s' if faithful.seeds != 1 else ''}"
    sentences = []
    if paper is None:
        sentences.append(
            f"Trained as the paper describes (the `{lead.profile}` profile, {seeds}), AudioFuse "
            f"reaches a test ROC-AUC of {faithful.text}."
        )
    else:
        bounds = (
            faithful.ci.strip("[]").split(",") if faithful.ci else [faithful.text.split("±")[0]] * 2
        )
        low, high = (float(v) for v in bounds)
        if paper > high:
            verdict, where = "**No, not to the paper's number.**", "above the 95 % bootstrap CI"
        elif paper < low:
            verdict, where = "**Yes, and above the paper's number.**", "below the 95 % bootstrap CI"
        else:
            verdict, where = "**Yes, within our uncertainty.**", "inside the 95 % bootstrap CI"
        ci = f" ({faithful.ci.strip('[]').replace(', ', '–')})" if faithful.ci else ""
        records = f"{lead.n_test} test records" if lead.n_test else "test records"
        sentences.append(
            f"{verdict} Trained as the paper describes (the `{lead.profile}` profile, {seeds}), "
            f"AudioFuse reaches a test ROC-AUC of {faithful.text} on the first 5 s of PhysioNet "
            f"2016's {records}, against the paper's {paper:.4f}, which lies {where} of our "
            f"first seed{ci}."
        )
    balanced = lead.subset_balanced
    if balanced is not None:
        so_far = " so far" if balanced.seeds < lead.planned_seeds else ""
        change = balanced.mean - faithful.mean
        sentences.append(
            "Balancing the classes within each recording subset, which the paper does not do, "
            f"{'lifts' if change > 0 else 'moves'} AudioFuse to {balanced.text} "
            f"({balanced.seeds} seed{'s' if balanced.seeds != 1 else ''}{so_far})."
        )
    classical = lead.classical
    if classical is not None:
        neural = [faithful.mean] + ([balanced.mean] if balanced is not None else [])
        standing = (
            "above every AudioFuse model here"
            if classical.mean > max(neural)
            else "below the best AudioFuse model here"
        )
        sentences.append(
            "A classical baseline (hand-crafted features, gradient boosting) reaches "
            f"{classical.text}, {standing}."
        )
    return sentences


def _wrap(paragraph: str) -> str:
    """A paragraph in lines of at most 90 characters, so that the raw Markdown reads too."""
    return textwrap.fill(paragraph, width=90, break_long_words=False, break_on_hyphens=False)


def verdict_markdown(
    headline: Headline, link_root: str = "", figure_root: Path | None = None
) -> str:
    """The verdict in words, one small table and one ROC figure, as Markdown.

    Parameters
    ----------
    headline
        What :func:`read_headline` returned.
    link_root
        Prefix that turns a path under the results folder into a link from the
        file the Markdown goes into (``"results/"`` from the project README).
    figure_root
        The results folder, to make the figure's path relative to it.
    """
    lines = [_wrap(" ".join(_verdict_sentences(headline.lead))), ""]
    profiles = headline.profiles
    header = "| test ROC-AUC, first 5 s | " + " | ".join(f"`{h.profile}` profile" for h in profiles)
    lines += [header + " |", "|---" * (len(profiles) + 1) + "|"]
    paper = [f"{h.paper:.4f} (one run)" if h.paper is not None else "—" for h in profiles]
    rows = [
        ("AudioFuse, the paper's reported number", paper),
        ("AudioFuse, ours, faithful recipe", [h.faithful.cell(h.planned_seeds) for h in profiles]),
        (
            "AudioFuse, classes balanced within each subset (beyond the paper)",
            [
                h.subset_balanced.cell(h.planned_seeds) if h.subset_balanced else "not run"
                for h in profiles
            ],
        ),
        (
            "Classical baseline (hand-crafted features, gradient boosting)",
            [h.classical.cell(h.planned_seeds) if h.classical else "not run" for h in profiles],
        ),
    ]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows]
    described = "; ".join(
        f"`{h.profile}` is {PROFILE_NOTES[h.profile]}"
        for h in profiles
        if h.profile in PROFILE_NOTES
    )
    lines += [
        "",
        _wrap(
            "Mean ± sd over seeds on PhysioNet 2016's official test list; every model chooses "
            "its epoch and threshold on a carve-out of the training records, never on the test "
            "list" + (f". Profiles: {described}." if described else ".")
        ),
    ]
    if headline.figure is not None:
        figure = headline.figure
        if figure_root is not None:
            figure = figure.relative_to(figure_root)
        lines += ["", f"![ROC curves on the test list, first 5 s]({link_root}{figure.as_posix()})"]
    return "\n".join(lines)


def _table_rows(markdown: str) -> list[str]:
    """The data rows of the first Markdown table in ``markdown`` (header and rule left out)."""
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    return [r for r in rows[2:] if r.strip("| ")]


def _title(markdown: str) -> str:
    first = markdown.splitlines()[0] if markdown.strip() else ""
    return first.lstrip("#").strip()


def _section(folder: Path, root: Path) -> list[str]:
    """One data/profile section: its tables (no empty, no repeated one), then its figures."""
    tables = sorted(
        folder.glob("*.md"),
        key=lambda p: (TABLE_ORDER.index(p.stem) if p.stem in TABLE_ORDER else 99, p.stem),
    )
    parts, shown_rows, titles, missing = [], set(), set(), []
    for table in tables:
        text = table.read_text()
        rows = _table_rows(text)
        title = _title(text)
        if not rows:
            note = " ".join(
                line.strip()
                for line in text.splitlines()[1:]
                if line.strip() and not line.startswith(("|", "**"))
            )
            missing.append(f"- *{title}*" + (f": {note}" if note else ""))
            continue
        if set(rows) <= shown_rows:
            continue  # every row already stands in a table above (the baselines in the main table)
        shown_rows.update(rows)
        if title in titles:
            qualifier = TITLE_QUALIFIERS.get(table.stem, f"`{table.stem}`")
            text = text.replace(title, f"{title}: {qualifier}", 1)
        titles.add(title)
        parts.append(text.rstrip() + "\n")
    if missing:
        parts.append("**Not available for this profile:**\n\n" + "\n".join(missing) + "\n")
    figures = sorted((folder / "figures").glob("*.png"))
    shown = [
        f for f in figures if f.name.startswith(("roc_", "confusion_fusion", "test_selection"))
    ]
    if shown:
        where = folder.relative_to(root).as_posix()
        parts.append(f"**Figures** (all in [`{where}/figures/`]({where}/figures/)):\n")
        parts.extend(f"![{f.stem}]({f.relative_to(root).as_posix()})\n" for f in shown)
    return parts


def _section_order(folder: Path) -> tuple:
    data, profile = folder.parent.name, folder.name
    return (
        data != "real",
        PROFILE_ORDER.index(profile) if profile in PROFILE_ORDER else 99,
        data,
        profile,
    )


def write_results_index(ctx: Context | None = None, results_root: str | Path | None = None) -> Path:
    """Write the index of one kind of data's results: the verdict, every table, the discussion.

    Real data (the default, and a real-data ``ctx``) goes to ``results/README.md``,
    the ``paper`` profile first. Synthetic data (``make demo``) goes to
    ``results/synthetic/README.md`` beside its tables: synthetic results are
    never committed (their last bits depend on the CPU), so the committed index
    must not depend on whether a demo ran. A table with no rows is named in one
    line instead of shown; a table whose rows all stand in a table above it is
    left out; a title that repeats another in the same section is qualified. A
    hand-written ``results/discussion.md``, when present, follows the real tables.
    When ``results_root`` is the checkout's own results folder, a real-data index
    also rewrites the project README's headline block.
    """
    if results_root is None:
        results_root = ctx.paths.results if ctx else Path("results")
    root = Path(results_root)
    real = ctx is None or ctx.data == "real"
    home = root if real else root / ctx.data  # the index's folder: its links start here
    folders = sorted(
        (p for p in (root / "real" if real else home).glob("*") if any(p.glob("*.md"))),
        key=_section_order,
    )
    parts = ["# Results\n"]
    if real:
        parts.append(
            "Generated by `notebooks/09_results.ipynb` (`make tables`, `make reproduce`) from "
            "the tables the other notebooks write; do not edit it by hand. Each table names its "
            "data, profile, seeds and the commits that built it and trained its runs. Results "
            "on synthetic data (`make demo`) go to `results/synthetic/`, which git ignores: "
            "they only show that the pipeline runs.\n"
        )
    else:
        parts.append(
            "SYNTHETIC data: these tables only show that the pipeline runs; they say nothing "
            "about heart sounds. Generated by `notebooks/09_results.ipynb` (`make demo`); "
            "never committed.\n"
        )
    headline = read_headline(root) if real else None
    if headline is not None:
        parts.append("## Does AudioFuse reproduce?\n")
        parts.append(verdict_markdown(headline, figure_root=root) + "\n")
    discussion = root / "discussion.md"
    discussion_title = _title(discussion.read_text()) if real and discussion.exists() else ""
    if headline is not None and discussion_title:
        parts.append(
            "Where and why our numbers differ from the paper's: "
            f"[the discussion](#{_anchor(discussion_title)}) after the tables.\n"
        )
    sections = [f"{f.parent.name} data, `{f.name}` profile" for f in folders]
    contents = [f"- [{s}](#{_anchor(s)})" for s in sections]
    if discussion_title:
        contents.append(f"- [{discussion_title}](#{_anchor(discussion_title)})")
    if contents:
        parts.append("## Contents\n\n" + "\n".join(contents) + "\n")
    for folder in folders:
        parts.append(f"## {folder.parent.name} data, `{folder.name}` profile\n")
        parts.extend(_section(folder, home))
    if discussion_title:
        parts.append(discussion.read_text().rstrip() + "\n")
    index = write_text_atomic(home / "README.md", "\n".join(parts))
    project_readme = root.parent / "README.md"
    if real and project_readme.exists() and root.resolve() == REPO_ROOT / "results":
        update_readme_headline(project_readme, root)
    return index


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def update_readme_headline(readme: str | Path, results_root: str | Path) -> bool:
    """Write the verdict of the real-data results into the README's results block.

    The block lies between ``<!-- results:start -->`` and ``<!-- results:end -->``
    and holds only the headline (:func:`verdict_markdown`): no synthetic result
    and no full table, which stay in ``results/README.md``. Returns False when
    the README has no such block.
    """
    readme, root = Path(readme), Path(results_root)
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return False
    headline = read_headline(root)
    link_root = Path(os.path.relpath(root.resolve(), readme.parent.resolve())).as_posix() + "/"
    if headline is None:
        body = (
            "No real-data results yet: `make data`, then `make reproduce PROFILE=cpu "
            f"DATA_DIR=data` ([{link_root}README.md]({link_root}README.md) lists what is there)."
        )
    else:
        body = verdict_markdown(headline, link_root=link_root, figure_root=root)
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    write_text_atomic(readme, f"{head}{README_START}\n{body}\n{README_END}{tail}")
    return True
