"""Reporting: what a run leaves behind for the people who read it.

Owns the report columns and per-call facts (`columns`), a failed test's exchanges and message logs
(`details`), the run dashboard that writes report, JUnit and summary (`dashboard`), the lead's view at the
top of the report (`overview`: the verdict banner in `verdict`, failure reasons in `reasons`, the folded
environment in `environment`, the look in `style`, monitor links in `monitor`), the numbers of a run
(`summary`), the run history and its trends (`history`, `charts`), the run's own folder and its atomic
publication as `reports/latest` (`publish`), the nightly run's options, JUnit names and exit codes (`nightly`),
the run's target on its first and last line (`targetline`), the report screenshot (`screenshot`), a run split
over CI machines and merged again (`shards`, `merge`) and the message to a team's chat (`notify`).
It may import `calls` (call records, message logs), `pacing` (the wording of what pacing cost) and the shared base.
"""
