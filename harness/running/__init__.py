"""Running: the run specification, the plan per (case, dtype), and the worker processes, lanes
and devices the parties run in."""
