"""Tools around the case format: shrinking a failing case, its JSON Schema, its vocabulary."""
