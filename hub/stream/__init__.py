"""The stream layer: faust agents that wire Kafka to the pure domain core. Kept thin."""
