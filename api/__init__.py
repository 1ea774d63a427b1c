"""The HTTP API, the `orderledger` CLI and the auditor web console."""
