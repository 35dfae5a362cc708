"""Channel adapters: turn raw input into a normalized Intake. Pure code, no database."""
