"""The case format: what a user writes (case files, the catalog of names) and the plain data
every other layer reads (Case, Inputs, Trace). Imports nothing else of the harness."""
