"""`deidlang explain --html OUT.html`: one self-contained page for a reviewer's browser.

Sections: the ruleset header (name, version, the plan hash outputs carry), the aryanto50 minimum with a
tick or the waiver's reason for each element, the full decision table with a text filter and an action
filter, and the source of every rule file with each line linked to the decisions it makes (a click
filters the table to that line; ``page.html#q=TEXT&action=keep`` opens it filtered). No external
resources: styles and script are inline.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from ..explain import decision_table, minimum_table
from ..plan import Plan

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:2px 6px;text-align:left;
vertical-align:top}th{background:#f3f3f3;position:sticky;top:0}
.ok{color:#17723a}.bad{color:#b00020;font-weight:bold}.waived{color:#8a5a00}
code,pre{font-family:ui-monospace,monospace;font-size:12px}pre{margin:0}
.src td{border:none;padding:0 6px}.src a{color:#888;text-decoration:none}.src tr:target{background:#fff3c4}
#filters{margin:.5em 0}#filters input{width:24em}.hidden{display:none}
"""

_SCRIPT = """
const text=document.getElementById('q'), act=document.getElementById('action'),
      rows=[...document.querySelectorAll('#decisions tbody tr')], count=document.getElementById('count');
function apply(){const q=text.value.toLowerCase(), a=act.value; let n=0;
    const line=/:[0-9]+$/.test(q);  // a file:line selects exactly that line's rules (14 is not 140)
  for(const r of rows){const show=(line?r.dataset.origin.toLowerCase()===q:r.textContent.toLowerCase().includes(q))
      &&(!a||r.dataset.action===a);
    r.classList.toggle('hidden',!show); if(show)n++;} count.textContent=n+' of '+rows.length+' rules';}
text.addEventListener('input',apply); act.addEventListener('change',apply);
for(const link of document.querySelectorAll('a.decisions')){link.addEventListener('click',e=>{
  e.preventDefault(); text.value=link.dataset.origin; act.value=''; apply();
  document.getElementById('decisions').scrollIntoView();});}
const given=new URLSearchParams(location.hash.slice(1));  // e.g. page.html#q=PatientName&action=keep
if(given.get('q'))text.value=given.get('q'); if(given.get('action'))act.value=given.get('action');
apply();
"""


def render(plan: Plan) -> str:
    minimum, decisions = minimum_table(plan), decision_table(plan)
    actions = sorted({row.action.split(" ")[0] for row in decisions})
    out = ["<!doctype html><html lang=en><head><meta charset=utf-8>",
           f"<title>deidlang: {escape(plan.name)} {escape(plan.version)}</title><style>{_STYLE}</style></head><body>",
           f"<h1>Ruleset <code>{escape(plan.name)}</code> version <code>{escape(plan.version)}</code></h1>",
           f"<p>Plan <code>sha256:{plan.plan_hash}</code>: outputs carry this in DeidentificationMethod. "
           f"Default <code>{escape(plan.default)}</code>; private elements with no rule are removed. "
           f"Minimum: <code>{escape(plan.minimum)}</code>"
           + (f" (off: {escape(plan.minimum_reason or '')})" if plan.minimum == "none" else "")
           + f". Method codes: {', '.join(map(str, plan.codes)) or 'none'}. "
           f"Includes: {escape(', '.join(dict.fromkeys(plan.includes))) or 'none'}.</p>",
           "<h2 id=minimum>The aryanto50 minimum</h2><table><thead><tr><th></th><th>tag</th><th>keyword</th>"
           "<th>status</th><th>what happens (top level)</th></tr></thead><tbody>"]
    for row in minimum:
        mark, css = ("✔", "ok") if row.status == "protected" else ("⚠", "waived") if row.status.startswith(
            "waived") else ("✘", "bad")
        out.append(f"<tr><td class={css}>{mark}</td><td><code>{row.tag}</code></td><td>{escape(row.keyword)}</td>"
                   f"<td class={css}>{escape(row.status)}</td><td>{escape(row.actions)}</td></tr>")
    out += ["</tbody></table>", "<h2>Decision table</h2>",
            "<div id=filters><input id=q type=search placeholder='filter: tag, keyword, file:line ...'> "
            "<select id=action><option value=''>every action</option>"
            + "".join(f"<option>{escape(a)}</option>" for a in actions) + "</select> <span id=count></span></div>",
            "<table id=decisions><thead><tr><th>selector</th><th>keyword</th><th>action</th><th>condition</th>"
            "<th>except</th><th>source</th><th>status</th></tr></thead><tbody>"]
    for row in decisions:
        source = escape(row.origin)
        link = f"<a href='#{_anchor(row.origin)}'>{source}</a>" if ":" in row.origin else source
        out.append(f"<tr data-action='{escape(row.action.split(' ')[0])}' data-origin='{source}'><td><code>{escape(row.selector)}</code></td>"
                   f"<td>{escape(row.keyword)}</td><td>{escape(row.action)}</td><td>{escape(row.condition)}</td>"
                   f"<td>{escape(row.excepts)}</td><td>{link}</td><td>{escape(row.status)}</td></tr>")
    out.append("</tbody></table><h2>Sources</h2>")
    for source in dict.fromkeys(o.source for o in plan.origins):
        out += _source(plan, source)
    out.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(out)


def _anchor(origin: str) -> str:
    return "src-" + "".join(c if c.isalnum() else "-" for c in origin)


def _source(plan: Plan, source: str) -> list[str]:
    path = Path(source)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:  # rule text given directly: show the statements the plan kept
        lines = []
        for o in plan.origins:
            if o.source == source:
                lines += [""] * (o.line - len(lines) - 1) + [o.text] if o.line > len(lines) else []
    with_rules = {o.line for o in plan.origins if o.source == source}
    out = [f"<h3><code>{escape(source)}</code></h3><table class=src>"]
    for number, line in enumerate(lines, start=1):
        origin = f"{source}:{number}"
        label = (f"<a class=decisions href='#decisions' data-origin='{escape(origin)}' title='show its decisions'>"
                 f"{number}</a>" if number in with_rules else str(number))
        out.append(f"<tr id='{_anchor(origin)}'><td>{label}</td><td><pre>{escape(line)}</pre></td></tr>")
    out.append("</table>")
    return out
