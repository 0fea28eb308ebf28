"""Warning rules, the evaluation engine, alert lifecycle, routing and escalation, notifications and the worker."""
