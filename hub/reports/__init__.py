"""Reports: the web face's tables (rules.md §7) as files, for a period, judged as of an
instant: `tables` builds them from the summaries, `csvfile` and `xlsx` write them. Pure: no
Kafka, no clock, no I/O but bytes returned; the web face (hub/web/exports.py) and
`motcua-hub report` (hub/cli.py) hand them the summaries and the instant.
"""
