"""Benchmarks that run the application's own code against its own PostgreSQL database.

Run `python -m bench --help`. Each benchmark uses a database of its own (`redress_bench` by
default), never the app's or the tests': it is created if missing, migrated with the app's
real migrations and loaded with a large synthetic but realistic data set (bench/dataset.py),
which later runs reuse. Raw results are written to bench/results/ (not committed).

Subcommands:
    sweep   the SLA sweep (app.sla.sweep.sweep) at a million open cases (bench/sweep.py)
"""
