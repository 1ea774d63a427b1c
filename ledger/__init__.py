"""Storage, cryptography and evidence: the append path, the Merkle log, proofs, audit."""
