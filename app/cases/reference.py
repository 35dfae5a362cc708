"""Public case references (`RX-XXXX-XXXX`); the pure logic lives in `channels.reference` so
that channel parsers (an email subject, an SMS) check the same way without importing `app`."""

from channels.reference import (  # noqa: F401  (re-exported for the app)
    ALPHABET,
    PREFIX,
    find_references,
    new_reference,
    normalize_reference,
)
