"""The order state catalogue, its machine and its ISO/IEC 11179 metadata registry.

Pure: no I/O beyond reading the package's own data files, no clock, and no imports of
other orderledger packages.
"""
