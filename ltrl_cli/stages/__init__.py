"""Stages: one pure generator per pipeline step (records in, records out; no typer, no stdout)."""
