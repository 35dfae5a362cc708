"""The directory: agencies, categories, service standards, calendars, queues, routing rules."""
