"""Post-resolution customer surveys (OMB Circular A-11 §280)."""
