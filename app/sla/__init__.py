"""SLA clocks: service standards, business calendars and due-time arithmetic."""
