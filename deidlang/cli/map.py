"""`deidlang map export`: the UID and PatientID crosswalks of a map, as ``id_old,id_new`` CSVs.

The UID crosswalk holds every re-mapped UID. Which pairs are PatientIDs is read from the rules that
made the map: the keyed action (pseudonym or hash) that decides PatientID there. Both files are
created readable by their owner only, since they link every pseudonym to its original.
"""

from __future__ import annotations

import os

import click

from ..actions import ACTIONS
from ..errors import InputError
from ..plan import Plan
from ..plancache import compile_cached
from ..resolve import Resolver
from ..runner import load_key
from ..store import PseudonymMap, write_crosswalk

PATIENT_ID = 0x00100020


@click.group("map")
def group() -> None:
    """Work with the re-identification map of pseudonymised runs."""


@group.command("export")
@click.option("--map", "map_path", required=True, type=click.Path(dir_okay=False), help="the map of a run")
@click.option("--key-file", type=click.Path(dir_okay=False), help="verify every pair with this key")
@click.option("-r", "--rules", default="research", show_default=True, help="the rules the runs used")
@click.option("--uids", "uids_csv", type=click.Path(dir_okay=False), help="write the UID crosswalk here")
@click.option("--patient-ids", "patids_csv", type=click.Path(dir_okay=False),
              help="write the PatientID crosswalk here")
def export(map_path: str, key_file: str | None, rules: str, uids_csv: str | None, patids_csv: str | None) -> int:
    """Write id_old,id_new crosswalks of UIDs and PatientIDs from a map."""
    if not (uids_csv or patids_csv):
        raise click.UsageError("name at least one of --uids and --patient-ids")
    key = load_key(key_file, os.environ) if key_file else None
    kind = patient_id_kind(compile_cached(rules)) if patids_csv else None
    store = PseudonymMap(map_path, key)
    try:
        if uids_csv:
            click.echo(f"{write_crosswalk(uids_csv, store.pairs(['uid']))} UIDs -> {uids_csv}")
        if patids_csv:
            click.echo(f"{write_crosswalk(patids_csv, store.pairs([kind]))} PatientIDs -> {patids_csv}")
    finally:
        store.close()
    return 0


def patient_id_kind(plan: Plan) -> str:
    """The map's kind of the pairs the plan makes of PatientID (its unconditional top-level rule)."""
    rule = next((r for r in Resolver(plan).candidates(PATIENT_ID, "LO", None) if r.condition is None), None)
    if rule is None or rule.action not in ("pseudonym", "hash"):
        raise InputError(f"the rules `{plan.name}` do not key PatientID (pseudonym or hash): no crosswalk", None,
                         "give with -r the rules the runs used")
    return ACTIONS[rule.action].pair_kind(rule.argument)
