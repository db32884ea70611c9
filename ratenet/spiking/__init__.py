"""The bridge from rate networks to spiking neurons: LIF-derived activations, conversion to neurosim
(:func:`to_spiking`), the equivalent neurosim network, NIR export and comparison plots.

The public names are importable from :mod:`ratenet` itself.
"""
