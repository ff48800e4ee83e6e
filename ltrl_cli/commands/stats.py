"""`ltrl stats`: how confusable the distractors are, and how long the contexts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ltrl_cli.app import Quiet, SkipBad, Verbose, app, command


@app.command("stats")
def stats_command(
    plot: Annotated[
        Optional[Path], typer.Option("--plot", help="Also draw histograms of context lengths and mention rates (PNG).")
    ] = None,
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Measure assembled data: gold-entity mentions per tier, context lengths, docs per tier.

    Reads: training records from `ltrl assemble`.  Writes: ONE JSON object on stdout with
    the figures (overall and `by_strategy`; with both a trajectory strategy and `random`
    in the input, `comparison`: the trajectory documents' share of the context tokens,
    Tier-1 documents per context, and each tier's macro mention rate against random's);
    a table on stderr.

    The confusability measure is the paper's: the fraction of documents that mention at
    least one gold entity of their question (whole words after the rubric normalisation),
    over all documents (`mention_rate`) and averaged per context (`mention_rate_macro`).

    \b
    Example:
      ltrl stats < train.jsonl > stats.json
      ltrl assemble --index idx --strategy random < tiered.jsonl > random.jsonl
      cat train.jsonl random.jsonl | ltrl stats --plot stats.png | jq .by_strategy
    """
    from ltrl_cli.io import dumps, records_out, stdin_records
    from ltrl_cli.records import READS
    from ltrl_cli.stages.stats import compute_stats

    with command("stats", quiet=quiet, verbose=verbose) as run, records_out() as out:
        figures = compute_stats(stdin_records(skip_bad=skip_bad, stats=run, schema=READS["stats"]))
        lengths = figures.pop("context_tokens")
        _print_table(figures, quiet)
        _print_comparison(figures.get("comparison"), quiet)
        if plot is not None:
            _plot(figures, lengths, plot)
        out.write(dumps(figures))
        out.flush()


def _print_table(figures: dict, quiet: bool) -> None:
    from rich.table import Table

    from ltrl_cli.console import console

    if quiet:
        return
    groups = figures["by_strategy"] if len(figures["by_strategy"]) > 1 else {"": figures}
    for name, fig in {**groups, **({"all": figures} if len(groups) > 1 else {})}.items():
        title = f"{fig['records']:,} contexts" + (f" ({name})" if name else "")
        table = Table(title=title, title_justify="left")
        for column in ("tier", "docs", "per context", "token share", "mention %", "macro %"):
            table.add_column(column, justify="left" if column == "tier" else "right")
        for tier, row in fig["tiers"].items():
            table.add_row(tier, f"{row['docs']:,}", f"{row['docs_per_record']:.1f}", _pct(row["token_share"]),
                          _pct(row["mention_rate"]), _pct(row["mention_rate_macro"]))
        console.print(table)
        tokens, fill = fig["tokens"], fig["fill"]
        if tokens["mean"] is not None:
            console.print(f"context tokens: min {tokens['min']:,.0f}, mean {tokens['mean']:,.0f}, "
                          f"max {tokens['max']:,.0f}; fill of target: min {_pct(fill['min'])}, "
                          f"mean {_pct(fill['mean'])}; {fig['truncated_docs']:,} documents truncated",
                          markup=False)


def _print_comparison(c: dict | None, quiet: bool) -> None:
    """The method's measure in three lines (the paper: traj-tiered 50.03% vs random 1.35%)."""
    from ltrl_cli.console import console

    if quiet or c is None:
        return
    rates = c["mention_rate_macro"]
    tiers = ", ".join(f"{tier} {_pct(rate)}" for tier, rate in rates.items() if tier != "distractors")
    ratio = f"{c['tier1_over_baseline']:.1f}x" if c["tier1_over_baseline"] is not None else "-"
    console.print(
        f"{c['strategy']} vs {c['baseline']}: trajectory documents (Tier-1 + Tier-2) hold "
        f"{_pct(c['trajectory_token_share'])} of the context tokens; {c['tier1_docs_per_context']:.1f} Tier-1 "
        f"documents per context.\nDocuments mentioning a gold entity (macro): {tiers}; "
        f"{c['baseline']} strategy {_pct(c['baseline_mention_rate_macro'])}. Tier-1 / {c['baseline']}: {ratio}.",
        markup=False, highlight=False)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _mention_bars(axes, by_strategy: dict[str, dict]) -> None:
    """One group of bars per tier, one bar per strategy: the comparison the paper makes."""
    tiers = list(dict.fromkeys(t for figs in by_strategy.values() for t, row in figs["tiers"].items()
                               if row["mention_rate"] is not None))
    width = 0.8 / max(1, len(by_strategy))
    for number, (name, figs) in enumerate(by_strategy.items()):
        rates = [100 * (figs["tiers"].get(t, {}).get("mention_rate") or 0) for t in tiers]
        axes.bar([i + number * width for i in range(len(tiers))], rates, width, label=name)
    axes.set_xticks([i + width * (len(by_strategy) - 1) / 2 for i in range(len(tiers))], tiers)
    axes.legend()


def _plot(figures: dict, lengths: dict[str, list[int]], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        from ltrl_cli.errors import MissingDependency

        raise MissingDependency("matplotlib", "stats", "ltrl stats --plot") from None
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, values in lengths.items():
        left.hist(values, bins=30, alpha=0.6, label=name)
    left.set(title="context length", xlabel="tokens", ylabel="contexts")
    left.ticklabel_format(axis="x", style="plain", useOffset=False)  # not "+1.31e5"
    left.legend()
    _mention_bars(right, figures.get("by_strategy") or {"all": figures})
    right.set(title="documents mentioning a gold entity", ylabel="%")
    fig.tight_layout()
    from ltrl_cli.io import replacing

    try:
        with replacing(path) as target:  # whole or not at all, like every output file
            fig.savefig(target, dpi=100, format="png")
    except OSError as exc:
        from ltrl_cli.errors import LtrlError

        raise LtrlError(f"--plot {path}: cannot write ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)
