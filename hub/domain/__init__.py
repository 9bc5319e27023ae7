"""The pure domain core: no Kafka, no I/O. The stream layer calls into it."""
