"""The SMS channel (Twilio): keywords, the conversation, segment budgets, the sender."""
