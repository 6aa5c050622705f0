"""`deidlang scan INPUT... [-r RULES] [--all] [--engine E] [--suggest] [--show-text] [--json]`:
burned-in text, found by OCR."""

from __future__ import annotations

import json
from collections import Counter

import click

from ..engine import ocr
from ..plancache import compile_cached as compile_rules
from ..runner import discover, quiet_pydicom
from ..scan import scan_files, suggest


@click.command("scan")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-r", "--rules", default="basic-profile", show_default=True,
              help="the rules whose removed or changed values make text identifying")
@click.option("--all", "everything", is_flag=True, help="read every file, not only those whose risk class or "
                                                         "pixel rules say they may carry text")
@click.option("--engine", type=click.Choice(ocr.ENGINES), help="OCR engine (default: $DEIDLANG_OCR, else rapidocr)")
@click.option("--suggest", "suggest_rules", is_flag=True, help="print blackout rules for what was found")
@click.option("--show-text", is_flag=True, help="print the recognised text (it may identify a patient)")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per file")
def command(inputs: tuple[str, ...], rules: str, everything: bool, engine: str | None, suggest_rules: bool,
            show_text: bool, as_json: bool) -> int:
    """Find likely burned-in text in the pixels of INPUT... (files or folders)."""
    quiet_pydicom()
    engine = engine or ocr.engine_name()
    plan = compile_rules(rules)
    scans = list(scan_files((source for _, source in discover(inputs)), plan, everything, engine))
    for s in scans:
        if as_json:
            click.echo(json.dumps({"path": s.path, "error": s.error, "read_because": s.why,
                                   "group": dict(zip(("Manufacturer", "ManufacturerModelName", "Rows", "Columns"),
                                                     s.group)),
                                   "findings": [{"region": f.box.region(), "frame": f.box.frame,
                                                 "text": _text(f.box.text, show_text),
                                                 "confidence": f.box.confidence, "identifying": f.matches or None,
                                                 "blacked_out_by_detected_text": f.redact} for f in s.findings]}))
        elif s.error:
            click.echo(f"{s.path}: {s.error}", err=True)
        elif s.looked:
            click.echo(f"{s.path}: read ({s.why}): " + (f"{len(s.findings)} text box(es)" if s.findings else "no text"))
            threshold = ocr.MIN_CONFIDENCE[engine]
            for f in s.findings:
                why = (f"identifying: repeats {f.matches}" if f.matches else
                       f"text, confidence {f.box.confidence:.2f}" + ("" if f.redact else f" (below {threshold})"))
                click.echo(f"  {','.join(map(str, f.box.region()))} frame {f.box.frame} "
                           f"{_text(f.box.text, show_text)} {why}")
    if not as_json:
        _summary(scans)
    if suggest_rules:
        click.echo("\n".join(suggest(scans)))
    return 1 if any(s.error for s in scans) else 0


def _text(text: str, show: bool) -> str:
    return text if show else f"[{len(text)} chars]"


def _summary(scans) -> None:
    read = [s for s in scans if s.looked]
    skipped = [s for s in scans if not s.why and not s.error]
    reasons = Counter(s.why for s in read)
    click.echo(f"read {len(read)} of {len(scans)} file(s) with pixel data"
               + (f" ({', '.join(f'{n} {why}' for why, n in sorted(reasons.items()))})" if reasons else "")
               + (f"; {len(skipped)} not read: neither their risk class nor a pixel rule says their pixels "
                  "carry text (--all reads them)" if skipped else ""))
    click.echo(f"text found in {sum(bool(s.redacted) for s in read)} file(s), identifying text in "
               f"{sum(any(f.matches for f in s.findings) for s in read)}")
    groups: dict[tuple, list[int]] = {}
    for s in read:
        counts = groups.setdefault(s.group, [0, 0])
        counts[0] += 1
        counts[1] += bool(s.redacted)
    click.echo("summary (Manufacturer / model / columns x rows: files read, files with text):")
    for (manufacturer, model, rows, cols), (files, with_text) in sorted(groups.items(), key=lambda i: str(i[0])):
        click.echo(f"  {manufacturer or '?'} / {model or '?'} / {cols}x{rows}: {files}, {with_text}")

