"""The parts of reading a case file; harness.loader puts them together."""
