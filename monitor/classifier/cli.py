"""The `classifier` click group (`train`, `evaluate`, `agreement`); the lead registers it on the root CLI.

`classify --all` and `notices tag` need storage and live in `monitor/cli.py`; they call
`monitor.classifier.classify` and `monitor.classifier.apply_corrections`.
"""

from __future__ import annotations

from pathlib import Path

import click

from monitor.classifier import model as text_model


@click.group(name="classifier")
def classifier() -> None:
    """Train and measure the technology-area classifier."""


@classifier.command()
@click.argument("corpus", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=text_model.MODEL_PATH,
    show_default=True,
    help="Where to write the model artifact.",
)
def train(corpus: tuple[Path, ...], out: Path) -> None:
    """Rebuild the model artifact from CORPUS: TED XML (.tar.gz, folders, .xml) and curated .jsonl files.

    The committed artifact is built with the corpus tarball, tests/data/classifier/train_curated.jsonl
    and the measured evaluation sets test.jsonl to test9.jsonl (see monitor/classifier/training.py).
    """
    from monitor.classifier.training import train as run

    stats = run(corpus, out)
    click.echo(
        f"read {stats['read']} TED notices: {stats['used']} used, {stats['duplicate']} duplicates, "
        f"{stats['no_strong_cpv']} without a strong CPV code, {stats['unparsable']} unparsable; "
        f"{stats['curated']} curated examples, {stats['lexicon']} taxonomy phrases"
    )
    if "cv_micro_f1_x1000" in stats:
        click.echo(f"stacker: cross-validated micro-F1 on the curated set {stats['cv_micro_f1_x1000'] / 1000:.3f}")
    click.echo(f"wrote {out} ({out.stat().st_size} bytes)")


@classifier.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--errors", is_flag=True, help="Also list the notices the classifier got wrong.")
def evaluate(file: Path, errors: bool) -> None:
    """Per-area precision/recall/F1 of the classifier and two baselines on FILE (.jsonl + gold_areas)."""
    from monitor.classifier.core import CLASSIFIER_VERSION
    from monitor.classifier.evaluate import evaluate as run
    from monitor.classifier.evaluate import format_report, read_gold

    reports = run(read_gold(file))
    click.echo(f"classifier {CLASSIFIER_VERSION} on {file}")
    click.echo(format_report(reports))
    if errors:
        for title, gold, predicted in reports["classifier"].errors:
            click.echo(f"- {title}\n    gold: {', '.join(gold)}\n    got:  {', '.join(predicted)}")


@classifier.command()
@click.argument("first", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("others", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def agreement(first: Path, others: tuple[Path, ...]) -> None:
    """How far other readers' labels (OTHERS) agree with FIRST on the same notices.

    Every file is JSON lines with `source_id` and `gold_areas` (a gold file such as dev.jsonl, or
    bare labels). Per-area P/R/F1 of each other reading, taken FIRST as gold; micro-F1 is the same
    either way round. Two readers' agreement is the ceiling a classifier can be measured against.
    """
    from monitor.classifier.evaluate import agreement as compare
    from monitor.classifier.evaluate import format_report, read_labels

    try:
        gold = read_labels(first)
        labels = {path: read_labels(path) for path in others}
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    reports = {}
    for path, other in labels.items():
        try:
            reports[path.stem] = compare(gold, other)
        except ValueError as exc:
            raise click.ClickException(f"{first} and {path}: {exc}") from exc
    click.echo(f"agreement with {first}")
    click.echo(format_report(reports))
