"""Time-driven jobs: SLA sweeps, retention sweeps, checkpoint publishing."""
