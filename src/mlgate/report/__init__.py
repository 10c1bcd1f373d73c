"""Presenters and every format writer: a command's typed result as Markdown, HTML, JUnit, SARIF,
GitLab's security report, OpenMetrics and the Presentation the emitters (ci/) render.

One rule: the concern packages (benchmark, scan, validate, ...) compute results and never
format them; everything that turns a result into text for a reader or a tool lives here, named
`<command>_<format>.py`, with `<command>_files.py` writing the report files a command was asked
for. This floor imports the concerns and the bottom-floor helpers (mlgate.escape,
mlgate.atomic), never ci/.
"""
