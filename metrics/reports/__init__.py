"""The quarterly report (docs/metrics.md#the-quarterly-report).

- ``data``: the report's figures, computed once per organization and quarter and
  frozen in ``metrics.models.QuarterlyReport``;
- ``csv``, ``xlsx``, ``pdf``: the three renderers, each drawing only the frozen data;
- ``escape``: the formula-injection escape every text cell of the CSV and XLSX takes;
- ``exports``: an export's life (queued, running, done or failed), built by the
  worker task ``metrics.tasks.report_export_build``.
"""
