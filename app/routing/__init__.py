"""Routing: which agency, queue and priority owns a complaint."""
