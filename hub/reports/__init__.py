"""Reports: the web face's tables (rules.md §7 per unit and per unit and procedure, §8 per
officer and per department, §9 findings) as files, for a period, judged as of an instant:
`tables` builds them from the summaries, `csvfile` and `xlsx` write them. Pure: no Kafka, no
clock, no I/O but bytes returned; the web face (hub/web/exports.py) and `motcua-hub report`
(hub/cli.py) hand them the summaries, the calendar and the instant.
"""
