"""`ltrl tier`: distractor tiers from the search agent's rollouts."""

from __future__ import annotations

from typing import Annotated

import typer

from ltrl_cli.app import Quiet, SkipBad, Verbose, app, command


@app.command("tier")
def tier_command(
    keep_unsolved: Annotated[bool, typer.Option(
        "--keep-unsolved",
        help="Keep questions with no correct rollout, flagged `tiers.solved: false` (tiers from all rollouts, "
             "gold = the chain).")] = False,
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Split each question's trajectory documents into distractor tiers.

    From the rollouts judged correct: gold = the chain's pages (`path` ids) + every page a
    correct rollout cited; tier1 = pages they opened but did not cite (hard distractors);
    tier2 = pages they saw in search results but never opened (easy distractors); gold is
    never a distractor. Questions with no correct rollout are dropped and counted (or
    kept with --keep-unsolved). Counts on stderr.

    Reads: `rollouts` (ltrl search-agent), `path` (ltrl walk).  Adds: `tiers` (`gold`,
    `tier1`, `tier2`: page ids, most-visited first; `solved`; `rollouts_used`).

    \b
    Example:
      ltrl search-agent --index idx --backend lexical < q.jsonl | ltrl tier > tiered.jsonl
      ltrl tier --keep-unsolved < traj.jsonl | jq -c '.tiers | [(.tier1|length), (.tier2|length)]'
    """
    from ltrl_cli.io import records_out, stdin_records, write_records
    from ltrl_cli.records import READS
    from ltrl_cli.stages.tier import tier
    from ltrl_cli.stats import Rejections

    with command("tier", quiet=quiet, verbose=verbose) as run, records_out() as out:
        records = stdin_records(skip_bad=skip_bad, stats=run, schema=READS["tier"])
        refused = Rejections("questions")
        kept = tier(records, keep_unsolved=keep_unsolved, stats=run, refused=refused)
        run.update("out", write_records(kept, out, flush_every=256))
        failure = refused.error(run["out"], "No rollout was judged correct: pass --keep-unsolved to keep them")
        if failure is not None:
            raise failure
