"""What every offline HTML report shares: the look of its text and tables.

A report page loads nothing (its styles are inline), so each writer adds this to its own
rules rather than linking a stylesheet.
"""

from __future__ import annotations

BASE_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:1100px;padding:0 1em;color:#1f2328;line-height:1.45}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.6em 0}
th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}
"""
