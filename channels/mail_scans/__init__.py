"""Paper mail: text from scanned letters (PDF text layers, OCR), contacts, batch manifests."""
