"""The pure core: domain types, the scoring model, rollups and KPIs. Imports nothing of ours; no HTTP, Flask or database."""
