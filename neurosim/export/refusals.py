"""What no exporter can carry today, refused in one place so that no target drops it silently."""


def refuse_uncarried(network, target):
    """Raise ValueError naming the first part of ``network`` that ``target`` ("NIR", "PyNN") cannot carry.

    * membrane noise (``Network.add_noise``): neither NIR nor our PyNN mapping has an
      equivalent of the exact OU membrane noise, and dropping it changes the rates;
    * ``placement="exact"`` connections: the targets deliver spikes on their own grid, so the
      in-step placement would be lost.
    """
    for pop in network.populations:
        if getattr(pop, "noise", None) is not None:
            raise ValueError(f"population {pop.name!r} has membrane noise (add_noise), which {target} export "
                             "cannot carry; dropping it would change the network's rates. Export a copy "
                             "without the noise if that is what you want.")
    for c in network.connections:
        if getattr(c, "placement", "boundary") == "exact":
            raise ValueError(f"connection {c.pre.name!r} -> {c.post.name!r} uses placement='exact' (spikes enter "
                             f"at their time inside the step), which {target} export cannot carry; use "
                             "placement='boundary' to export it")
