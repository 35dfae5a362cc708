"""Raw inbound input from every channel, stored before anything can fail, and its outcome."""
