"""Paper mail: scanned letters in (drop folder, upload), printed letters out (print batches)."""
