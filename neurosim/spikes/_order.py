"""The one argument order of the spike-train helpers (what, then how many, then time) and the old orders.

``poisson_spikes``, ``count_rate`` and ``filtered_rate`` took their time argument second; they now take
the count second and the time as a keyword. A call without that keyword is read in the old order, with a
DeprecationWarning, so positional calls written for the old order keep working.
"""
import warnings


def resolve(name, args, values, time_name, count_name, old_order, example):
    """Fill ``values`` (keyword values by name) from the extra positional ``args``.

    Parameters
    ----------
    name : str
        The public function, for messages.
    args : tuple
        Positional arguments after the first (the spikes or the rate).
    values : dict
        The keyword arguments as given (None where not given).
    time_name, count_name : str
        The keyword-only time argument (e.g. "T") and the count (e.g. "n_neurons").
    old_order : tuple of str
        The names the old positional order gave ``args``.
    example : str
        A correct call, for the error message.

    Returns
    -------
    dict
        ``values`` with the positional arguments filled in.
    """
    if values[time_name] is None:  # the old order
        if not args:
            raise TypeError(f"{name} needs {time_name} as a keyword, e.g. {example}")
        warnings.warn(f"{name}(..., {', '.join(old_order[:2])}, ...) is deprecated: use {example}",
                      DeprecationWarning, stacklevel=3)
        return {**values, **dict(zip(old_order, args))}
    if len(args) > 1:
        raise TypeError(f"{name} takes one positional argument after the first ({count_name}); "
                        f"pass the others as keywords, e.g. {example}")
    if args:
        if values[count_name] is not None:
            raise TypeError(f"{name} got {count_name} twice")
        return {**values, count_name: args[0]}
    return values
