"""The shared core of the CX dashboard: settings, store, models, access, KPIs and the journey model."""
