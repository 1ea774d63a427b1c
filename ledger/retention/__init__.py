"""Retention inside the ledger: which payloads may be erased and when (`policy`), the
archive written before erasing (`archive`), the signed run report (`report`) and the run
itself (`runner`). The daily job that calls the runner lives in the top-level
`retention` package; legal holds in `ledger.holds`.

Kept import-free on purpose: `ledger.audit` imports `ledger.retention.policy`, which must
not pull the runner (and the whole service) in with it.
"""
