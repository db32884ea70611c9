"""Networks: descriptions (Network, Population, connections, inputs, probes), the runtime that runs
them (grid and precise timing), and example networks (CUBA).

The public names are importable from :mod:`neurosim` itself.
"""
