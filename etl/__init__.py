"""Batch jobs: sources -> validate -> identity -> profiles -> aggregates (+ the demo data generator)."""
