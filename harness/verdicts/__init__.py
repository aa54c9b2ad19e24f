"""Verdicts: tolerances, the comparator, and who is to blame: magnitudes, inherited allowances,
consensus, known discrepancies and the learner's diagnosis. Pure functions of arrays and rows."""
