"""Single-neuron models: LIF (exact step, physical units), Hodgkin-Huxley (kinetics, steppers),
noise (exact OU step, Siegert rate), LIF fits and measured tuning curves.

The public names are importable from :mod:`neurosim` itself.
"""
