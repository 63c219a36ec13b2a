"""What every stage shares: atomic writes, seeding and the hash seed, the
record of what a run ran on, logging, array types and the figure style."""
