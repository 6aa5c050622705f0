"""`deidlang scan INPUT... [--suggest] [--show-text] [--json]`: burned-in text, found by OCR."""

from __future__ import annotations

import json

import click

from ..runner import discover
from ..scan import scan_files, suggest


@click.command("scan")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--suggest", "suggest_rules", is_flag=True, help="print blackout rules for what was found")
@click.option("--show-text", is_flag=True, help="print the recognised text (it may identify a patient)")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per file")
def command(inputs: tuple[str, ...], suggest_rules: bool, show_text: bool, as_json: bool) -> int:
    """Find likely burned-in text in the pixels of INPUT... (files or folders)."""
    scans = list(scan_files(source for _, source in discover(inputs)))
    for s in scans:
        texts = [b.text if show_text else f"[{len(b.text)} chars]" for b in s.boxes]
        if as_json:
            click.echo(json.dumps({"path": s.path, "error": s.error, "group": list(s.group),
                                   "boxes": [{"region": b.region(), "text": t, "confidence": b.confidence}
                                             for b, t in zip(s.boxes, texts)]}))
        elif s.error:
            click.echo(f"{s.path}: {s.error}", err=True)
        elif s.boxes:
            found = "; ".join(f"{','.join(map(str, b.region()))} {t}" for b, t in zip(s.boxes, texts))
            click.echo(f"{s.path}: {len(s.boxes)} text box(es): {found}")
    if not as_json:
        groups: dict[tuple, list[int]] = {}
        for s in scans:
            if not s.error:
                counts = groups.setdefault(s.group, [0, 0])
                counts[0] += 1
                counts[1] += bool(s.boxes)
        click.echo("summary (Manufacturer / model / columns x rows: files, files with text):")
        for (manufacturer, model, rows, cols), (files, with_text) in sorted(groups.items()):
            click.echo(f"  {manufacturer or '?'} / {model or '?'} / {cols}x{rows}: {files}, {with_text}")
    if suggest_rules:
        click.echo("\n".join(suggest(scans)))
    return 1 if any(s.error for s in scans) else 0
