"""Operations: health check and structured logging."""
