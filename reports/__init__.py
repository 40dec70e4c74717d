"""Reports: KPIs over the assessment history (pandas; pure). Being built (issue 10)."""
