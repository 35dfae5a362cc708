"""The email channel's glue: inbound processing, the SMTP, IMAP, webhook and file doors, and
the threading headers of outbound mail."""
