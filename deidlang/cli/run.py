"""`deidlang run [-r RULES] INPUT... -o OUTPUT [--key-file F] [--workers N]`."""

from __future__ import annotations

import gc
import os
import sys
import time

import click

from ..plancache import compile_cached as compile_rules
from ..dictionary import format_tag, keyword_of
from .. import limits
from .._walker import describe
from ..runner import (FINISHED, LAYOUTS, FileResult, discover, load_key, preview, quiet_pydicom,
                      require_site_key, run)


@click.command("run")
@click.option("-r", "--rules", default="basic-profile", show_default=True, help="rule file or shipped ruleset")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", "outdir", metavar="FOLDER", help="output folder (de-identified DICOM only); not with --dry-run")
@click.option("--layout", type=click.Choice(LAYOUTS), default="uid", show_default=True,
              help="uid: OUT/<study>/<series>/<instance>.dcm by the new UIDs; mirror: the input's folder and file "
                   "names (they may name patients)")
@click.option("--state", "state", type=click.Path(file_okay=False),
              help="folder for the journal and temporary files (default: OUTPUT.deidlang beside the output)")
@click.option("--dry-run", is_flag=True, help="print what each rule would do to each element; write nothing")
@click.option("--key-file", type=click.Path(dir_okay=False),
              help="site key for uid/hash/pseudonym/shift (else $DEIDLANG_KEY, else a random one-run key)")
@click.option("--map", "map_path", type=click.Path(dir_okay=False),
              help="record original -> pseudonym pairs in this SQLite map (needs a site key)")
@click.option("--workers", type=click.IntRange(min=1), default=os.cpu_count() or 1, show_default="cores",
              help="worker processes")
@click.option("--resume", is_flag=True, help="skip inputs an earlier run into the output finished with the same plan "
                                             "(needs a site key)")
@click.option("--max-inflated", type=click.IntRange(min=1), metavar="MIB",
              help=f"largest a deflated data set may inflate to (default {limits.inflated() >> 20})")
@click.option("--max-pixels", type=click.IntRange(min=1), metavar="MIB",
              help=f"largest decoded pixel buffer (default {limits.pixels() >> 20})")
@click.option("--quarantine", type=click.Path(file_okay=False), help="copy rejected and unreadable inputs here, "
                                                                     "each with a .reason.txt")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="one JSON line per input")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local processes, or a Dask distributed cluster")
@click.option("--scheduler", metavar="ADDRESS", help="the Dask scheduler (default: a LocalCluster of --workers)")
@click.option("--verify-pixels", is_flag=True, help="read redacted pixels again with OCR before writing; fail a file "
                                                    "whose pixels still show a removed or changed value")
@click.option("--private", is_flag=True, help="outputs readable by their owner only (0600); by default the umask "
                                              "decides, as for cp (quarantine and map files are always owner-only)")
@click.option("-q", "--quiet", is_flag=True, help="print only failures and the summary")
def command(rules: str, inputs: tuple[str, ...], outdir: str | None, dry_run: bool, key_file: str | None,
            map_path: str | None, workers: int, resume: bool, quarantine: str | None, report_path: str | None,
            engine: str, scheduler: str | None, verify_pixels: bool, quiet: bool, layout: str, state: str | None,
            max_inflated: int | None, max_pixels: int | None, private: bool) -> int:
    """De-identify every DICOM file under INPUT... into the folder given by -o/--output."""
    quiet_pydicom()
    for name, value in ((limits.INFLATED_ENV, max_inflated), (limits.PIXELS_ENV, max_pixels)):
        if value is not None:
            os.environ[name] = str(value)  # read by the engines, in workers too
    plan = compile_rules(rules)
    key = load_key(key_file, os.environ)
    # What exists now (modules, the plan) lives as long as the process: the collector need not walk
    # it again during the run or at exit, and forked workers leave its memory pages shared.
    gc.freeze()
    if dry_run:
        return _dry_run(plan, inputs, key)
    if verify_pixels:
        from ..engine import ocr
        from ..errors import EngineError

        try:
            ocr.require()
        except EngineError as err:
            raise click.UsageError(f"--verify-pixels: {err.message}") from None
    if outdir is None:
        raise click.UsageError("-o/--output is required (or --dry-run)")
    require_site_key(key, map_path, resume)  # before the banner, which names the key's kind
    if not quiet:
        mode = "pseudonymisation (site key)" if key.persistent else "anonymisation (random one-run key)"
        click.echo(f"rules {plan.name} {plan.version} sha256:{plan.plan_hash[:16]}, {mode}, {describe()}", err=True)
    progress = None
    if not quiet and sys.stderr.isatty():  # a live bar: files, files/s, MB/s, ETA, errors so far
        total = sum(1 for _ in discover(inputs))
        from tqdm import tqdm  # only for the bar (its import costs a tenth of the start)

        progress = tqdm(total=total, unit="file", file=sys.stderr, dynamic_ncols=True)
    start = time.monotonic()
    read_bytes = 0
    errors = 0

    def on_result(result: FileResult) -> None:
        nonlocal read_bytes, errors
        if result.status in ("failed", "rejected") or (result.status == "skipped" and result.reason != FINISHED):
            errors += result.status != "skipped"
            message = f"{result.source}: {result.status}: {result.reason}"
            (progress.write(message, file=sys.stderr) if progress else click.echo(message, err=True))
        if progress is not None:
            try:
                read_bytes += os.path.getsize(result.source)
            except OSError:
                pass
            progress.set_postfix_str(f"{read_bytes / 1e6 / max(time.monotonic() - start, 1e-9):.1f} MB/s, "
                                     f"{errors} errors", refresh=False)
            progress.update()

    try:
        summary = run(plan, inputs, outdir, key, workers, on_result, map_path, resume=resume,
                      quarantine=quarantine, report_path=report_path, engine=engine, scheduler=scheduler,
                      layout=layout, state=state, verify_pixels=verify_pixels, private=private)
    finally:
        if progress is not None:
            progress.close()
    elapsed = time.monotonic() - start
    skipped = f", {summary.skipped} skipped" if summary.skipped else ""
    engines = f" (fast path {summary.fast}, reference engine {summary.reference})" if summary.reference else ""
    click.echo(f"{summary.written} written, {summary.failed} failed, {summary.rejected} rejected{skipped} "
               f"in {elapsed:.1f}s -> {outdir}{engines}")
    if summary.trouble:
        click.echo(f"warning: {summary.trouble}", err=True)
    return 0 if summary.ok and not summary.trouble else 1


#: What a dry run says of each file, by the status a real run would give it.
_VERDICT = {"written": "would be written", "rejected": "would be rejected", "failed": "would fail",
            "skipped": "would be skipped"}


def _dry_run(plan, inputs: tuple[str, ...], key) -> int:
    """Per file: each element's tag, keyword, VR and value length (never the value), the action and
    the line that decides it; the pixel rules that would apply; whether it would be rejected."""
    failed = 0
    for _, source in discover(inputs):
        p = preview(source, plan, key)
        failed += p.status in ("failed", "rejected")
        click.echo(f"{p.source}: {_VERDICT.get(p.status, p.status)}" + (f" ({p.reason})" if p.reason else ""))
        for d in p.decisions:
            where = str(plan.origin(d.order)) if d.order is not None else "default"
            path = "".join(f"{keyword_of(seq) or format_tag(seq)}[{i}]/" for seq, i in d.position)
            click.echo(f"  {path}{format_tag(d.tag)} {keyword_of(d.tag) or '-'} {d.vr} length {d.length}: "
                       f"{d.action} ({where})")
        for rule in p.pixel_rules:
            regions = "; ".join(",".join(map(str, r)) for r in rule.regions) or rule.kind
            click.echo(f"  pixels: {rule.kind} {regions} ({plan.origin(rule.order)})")
        for note in p.notes:
            click.echo(f"  note: {note}")
    return 1 if failed else 0
