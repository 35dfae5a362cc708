"""Small helpers shared by every domain: time, column types, errors."""
