"""The ``ratenet`` command: the everyday loop (train, evaluate, convert to spiking) and the demo.

    ratenet train --data digits --layers 128 --activation softlif --epochs 20 --out model.npz
    ratenet evaluate model.npz [--data digits]
    ratenet convert model.npz --T 0.2 [--data digits]     # spiking accuracy of the converted model
    ratenet demo --out DIR                                  # or: python -m ratenet demo --out DIR
    ratenet --version

``--data`` is ``digits`` (scikit-learn's 8x8 digits, extra ``[digits]``),
``mnist`` (:func:`ratenet.data.load_mnist`, 28x28, extra ``[mnist]``) or
``xor`` (noisy XOR corners); ``evaluate`` and ``convert`` take it from the
model's input size when it is not given. They report on the test split.

Errors (bad arguments, a missing extra, an unreadable model, an unwritable
``--out``, a simulation leaving its valid range) print one line on stderr and
exit with status 2; output paths are checked (and their folders created)
before anything is computed. Progress (training epochs, the spiking
simulation) is shown by default; ``--no-progress`` turns it off.

``demo`` runs the toy bridge in a few seconds: a 10-32-4 network with soft-LIF
hidden units trained on the noisy discrete mapping, converted with
:func:`ratenet.to_spiking` and run as spiking LIF neurons; it prints the rate
and spiking accuracies and writes the comparison figures as PNG files.
"""
import argparse
import os
import sys

import numpy as np

from neurosim.io import atomic_write
from neurosim.errors import SimulationError

__all__ = ["main", "toy_bridge", "build_parser", "DATASETS", "ACTIVATIONS"]

#: ``--data`` choices: inputs, outputs, default hidden sizes and what each needs.
DATASETS = {
    "digits": {"n_in": 64, "image": (1, 8, 8), "n_out": 10, "layers": [128], "extra": "digits"},
    "mnist": {"n_in": 784, "image": (1, 28, 28), "n_out": 10, "layers": [256], "extra": "mnist"},
    "xor": {"n_in": 2, "image": None, "n_out": 1, "layers": [8], "extra": None},
}

#: ``--activation`` choices (hidden layers); only the LIF ones convert to spiking neurons.
ACTIVATIONS = ("softlif", "lif", "relu", "tanh", "sigmoid", "leaky_relu", "softplus")


def toy_bridge(seed=0, T_values=(0.02, 0.05, 0.1, 0.2, 0.5)):
    """Train, convert and compare on the noisy mapping.

    Returns
    -------
    dict
        ``snn`` (SpikingModel), ``X``/``labels`` (test set), ``T`` and
        ``spiking_accuracy`` (arrays), ``rate_accuracy`` (float) and ``result``
        (SpikingResult at T = 0.2 s).
    """
    import ratenet
    from neurosim.synapses import PSCFilter
    from .data import noisy_mapping
    from .spiking.activations import SoftLIFRate
    from .optimizers import Adam
    from .spiking.plots import accuracy_sweep
    from .training import fit

    X, labels = noisy_mapping(800, n_classes=4, n_features=10, noise=0.8, rng=seed)
    rng = np.random.default_rng(seed)
    model = ratenet.Sequential([ratenet.Dense(10, 32, rng=rng), SoftLIFRate(amplitude=1 / 63),
                                ratenet.Dense(32, 4, rng=rng), ratenet.Softmax()])
    fit(model, X[:600], labels[:600], ratenet.CategoricalCrossEntropy(), Adam(lr=3e-3), epochs=40,
        batch_size=32, rng=seed, verbose=0)
    Xte, Tte = X[600:], labels[600:]
    snn = ratenet.to_spiking(model, synapse=PSCFilter(0.005), dt=1e-3)
    Ts, accs = accuracy_sweep(snn, Xte, Tte, T=T_values)
    return {"snn": snn, "X": Xte, "labels": Tte, "T": Ts, "spiking_accuracy": accs,
            "rate_accuracy": float(np.mean(ratenet.to_labels(model.predict(Xte)) == Tte)),
            "result": snn.run(Xte, T=0.2)}


def _prepare_out(out):
    """Create the output folder (and its parents) and check it is writable, before any work."""
    from neurosim.cli import output_folder

    return output_folder(out)


def _demo(args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .spiking import plots as sp

    out = _prepare_out(args.out)
    m = toy_bridge(args.seed)
    print(f"toy bridge (noisy mapping, 10-32-4 soft-LIF): rate accuracy {100 * m['rate_accuracy']:.1f} %")
    for T, a in zip(m["T"], m["spiking_accuracy"]):
        print(f"  spiking LIF network, T = {T:5.3f} s: {100 * a:.1f} %")
    figs = {
        "bridge_tuning_curves": sp.plot_tuning_curves(sp.bridge_curves(hh=args.hh)),
        "bridge_rate_vs_spiking": sp.plot_rate_vs_spiking(m["snn"], m["X"], result=m["result"]),
        "bridge_accuracy_vs_T": sp.plot_accuracy_sweep(m["T"], m["spiking_accuracy"], m["rate_accuracy"]),
        "bridge_rate_histograms": sp.plot_rate_histograms(m["result"]),
    }
    for name, fig in figs.items():
        path = out / f"{name}.png"
        with atomic_write(path) as f:          # a figure file is the old one or the new one
            fig.savefig(f, format="png", dpi=110)
        plt.close(fig)  # main() may run many times in one process
        print(f"wrote {path}")
    return 0


def _hidden(name):
    """The hidden activation for ``--activation``; LIF units use the docs' constants (output ~1 at z = 1)."""
    import ratenet

    if name == "softlif":
        return ratenet.SoftLIFRate(tau_m=0.02, tau_ref=0.002, amplitude=1 / 63, sigma=0.02)
    if name == "lif":
        return ratenet.LIFRate(tau_m=0.02, tau_ref=0.002, amplitude=1 / 63)
    return ratenet.get_activation(name)


def load_data(name, seed=0):
    """``(X_train, y_train, X_test, y_test)`` of ``--data name``.

    digits: :func:`ratenet.data.load_digits_split`; mnist:
    :func:`ratenet.data.load_mnist` (``split=True, flat=True``); xor: 800 noisy
    corners (noise 0.15) drawn with ``seed``, tested on 400 drawn with seed 1,000,003.
    Labels are class indices (digits, mnist) or (n, 1) targets in {0, 1} (xor).
    """
    from . import data

    if name == "xor":
        Xtr, ytr = data.xor(800, noise=0.15, rng=seed)
        Xte, yte = data.xor(400, noise=0.15, rng=1_000_003)
        return Xtr, ytr, Xte, yte
    if name == "digits":
        try:
            Xtr, Xte, ytr, yte = data.load_digits_split()
        except ImportError as err:
            raise ValueError(f"--data digits needs scikit-learn, the extra [digits]: pip install "
                             f"'neurosim-ratenet[digits]' ({err})") from None
        return Xtr, ytr, Xte, yte
    load_mnist = getattr(data, "load_mnist", None)
    if load_mnist is None:
        raise ValueError("--data mnist needs ratenet.data.load_mnist, which this ratenet does not have; "
                         "update ratenet and install the extra [mnist]: pip install 'neurosim-ratenet[mnist]'")
    try:
        Xtr, Xte, ytr, yte = load_mnist(split=True, flat=True)
    except ImportError as err:
        raise ValueError(f"--data mnist needs the extra [mnist]: pip install 'neurosim-ratenet[mnist]' "
                         f"({_one_line(err)})") from None
    return Xtr, ytr, Xte, yte


def _one_line(text):
    return " ".join(str(text).split())


def _first_weights(model):
    return next((l.W for l in model.layers if getattr(l, "W", None) is not None), None)


def _takes(model, name):
    """Whether the model takes ``--data name``: flat vectors for a dense model, images for a convolutional one."""
    W, spec = _first_weights(model), DATASETS[name]
    if W is None:
        return False
    if W.ndim == 2:
        return W.shape[1] == spec["n_in"]
    if spec["image"] is None:
        return False
    try:
        model.layer_shapes(spec["image"])
    except ValueError:
        return False
    return True


def _describe_inputs(model):
    W = _first_weights(model)
    if W is None:
        return "no weighted layer"
    return f"{W.shape[1]} inputs" if W.ndim == 2 else f"{W.shape[1]}-channel images"


def _data_for(model, args):
    """``--data``, or the dataset whose inputs the model takes; refuse a model of another size."""
    name = args.data
    if name is None:
        names = [k for k in DATASETS if _takes(model, k)]
        if len(names) != 1:
            sizes = ", ".join(f"{k} {d['n_in']} (image {d['image']})" for k, d in DATASETS.items())
            raise ValueError(f"{args.model}: a model with {_describe_inputs(model)} matches no --data choice "
                             f"(inputs: {sizes})")
        name = names[0]
    if not _takes(model, name):
        spec = DATASETS[name]
        raise ValueError(f"{args.model} takes {_describe_inputs(model)}, --data {name} has {spec['n_in']} "
                         f"inputs (image {spec['image']})")
    return name


def _shaped(model, name, X):
    """The dataset's flat rows as (n, C, H, W) images when the model starts with a convolution."""
    W = _first_weights(model)
    return X.reshape((-1,) + DATASETS[name]["image"]) if W is not None and W.ndim == 4 else X


def _loss_for(model):
    """The loss matching the model's output layer (it must be a classifier)."""
    import ratenet

    last = model.layers[-1] if model.layers else None
    for act, loss in ((ratenet.Softmax, ratenet.CategoricalCrossEntropy), (ratenet.LogSoftmax, ratenet.NLLLoss),
                      (ratenet.Sigmoid, ratenet.BinaryCrossEntropy)):
        if isinstance(last, act):
            return loss()
    raise ValueError(f"the model ends with {type(last).__name__}; evaluate needs a classifier ending with "
                     "Softmax, LogSoftmax or Sigmoid")


def _load_model(path):
    import ratenet

    try:
        return ratenet.load(path)
    except FileNotFoundError:
        raise ValueError(f"model file {path!r} does not exist") from None


def _labels(y):
    """Class indices of targets: (n,) indices as they are, (n, 1) binary targets thresholded."""
    y = np.asarray(y)
    return y.astype(np.intp) if y.ndim == 1 else (y[:, 0] > 0.5).astype(np.intp)


def _train(args):
    import ratenet
    from neurosim.cli import output_path
    from .optimizers import Adam

    spec = DATASETS[args.data]
    if os.path.basename(args.out) in ("", ".", ".."):
        raise ValueError(f"--out must name a file, got {args.out!r}")
    out = args.out if args.out.endswith(".npz") else f"{args.out}.npz"   # what Sequential.save writes
    out = output_path(out, kind="model")               # checked (folder created) before any work
    Xtr, ytr, Xte, yte = load_data(args.data, args.seed)
    rng = np.random.default_rng(args.seed)
    sizes = [spec["n_in"]] + (args.layers or spec["layers"])
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [ratenet.Dense(a, b, rng=rng), _hidden(args.activation)]
    binary = spec["n_out"] == 1
    layers += [ratenet.Dense(sizes[-1], spec["n_out"], rng=rng), ratenet.Sigmoid() if binary else ratenet.Softmax()]
    model = ratenet.Sequential(layers)
    loss = ratenet.BinaryCrossEntropy() if binary else ratenet.CategoricalCrossEntropy()
    model.fit(Xtr, ytr, loss=loss, optimizer=Adam(lr=args.lr), epochs=args.epochs, batch_size=args.batch_size,
              rng=args.seed, verbose=1 if args.progress else 0)
    scores = ratenet.evaluate(model, Xte, yte, loss)
    model.save(out)
    print(f"{'-'.join(map(str, sizes + [spec['n_out']]))} {args.activation} on {args.data}: test accuracy "
          f"{100 * scores['accuracy']:.2f} % (loss {scores['loss']:.4g}) on {len(Xte)} samples")
    print(f"wrote {out}")
    return 0


def _evaluate(args):
    import ratenet

    model = _load_model(args.model)
    name = _data_for(model, args)
    loss = _loss_for(model)
    _, _, Xte, yte = load_data(name, args.seed)
    Xte = _shaped(model, name, Xte)
    scores = ratenet.evaluate(model, Xte, yte, loss)
    print(f"{args.model} on {name}: test accuracy {100 * scores['accuracy']:.2f} % "
          f"(loss {scores['loss']:.4g}) on {len(Xte)} samples")
    return 0


def _convert(args):
    import ratenet
    from neurosim.synapses import PSCFilter
    from neurosim.validation import n_steps

    model = _load_model(args.model)
    name = _data_for(model, args)
    n_steps(args.T, args.dt, T_name="--T", dt_name="--dt")   # a whole number of steps, before any work
    Xtr, _, Xte, yte = load_data(name, args.seed)
    Xtr, Xte = _shaped(model, name, Xtr), _shaped(model, name, Xte)
    # ReLU layers convert to integrate-and-fire neurons after data-based normalisation on training inputs
    relu = any(isinstance(layer, ratenet.ReLU) for layer in model.layers)
    extra = {"normalize": Xtr[:1000]} if relu else {}
    snn = ratenet.to_spiking(model, synapse=PSCFilter(args.tau_s), dt=args.dt, **extra)
    labels = _labels(yte)
    threshold = 0.5 if isinstance(model.layers[-1], ratenet.Sigmoid) else 0.0
    rate = float(np.mean(ratenet.to_labels(model.predict(Xte), threshold=threshold) == labels))
    spiking = snn.accuracy(Xte, labels, T=args.T, batch_size=args.batch_size, progress=args.progress)
    print(f"{args.model} on {name} ({len(Xte)} test samples): rate accuracy {100 * rate:.2f} %, spiking "
          f"accuracy {100 * spiking:.2f} % ({'IF neurons, normalised' if relu else 'LIF neurons'}, T = {args.T:g} s, "
          f"dt = {args.dt:g} s, "
          f"tau_s = {args.tau_s:g} s)")
    return 0


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _count(text):
    """An integer >= 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _sizes(text):
    """Hidden layer sizes: one integer >= 1, or several separated by commas."""
    return [_count(part) for part in text.split(",")]


def _duration(text):
    """A finite number > 0 (seconds, or a learning rate)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_progress(p):
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="show progress on stderr (training epochs, spiking simulation)")


def build_parser():
    """The ``ratenet`` argument parser (``--help`` shows every default)."""
    from . import __version__

    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = _Parser(prog="ratenet", description="ratenet command line", formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"ratenet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a classifier on a dataset and save it (.npz)", formatter_class=fmt)
    train.add_argument("--data", choices=sorted(DATASETS), required=True,
                       help="digits (needs [digits]), mnist (needs [mnist]) or xor")
    train.add_argument("--layers", type=_sizes, default=None, metavar="N[,N...]",
                       help="hidden layer sizes (default: digits 128, mnist 256, xor 8)")
    train.add_argument("--activation", choices=ACTIVATIONS, default="softlif",
                       help="hidden activation; softlif and lif convert to spiking neurons")
    train.add_argument("--epochs", type=_count, default=20)
    train.add_argument("--batch-size", type=_count, default=32)
    train.add_argument("--lr", type=_duration, default=1e-3, help="Adam learning rate")
    train.add_argument("--seed", type=_seed, default=0, help="random seed (integer >= 0)")
    train.add_argument("--out", required=True, help="model file to write (.npz appended when missing)")
    _add_progress(train)

    for name, help_ in (("evaluate", "test accuracy and loss of a saved model"),
                        ("convert", "run a saved model as spiking LIF neurons; print its accuracy")):
        p = sub.add_parser(name, help=help_, formatter_class=fmt)
        p.add_argument("model", help="a model file written by ratenet train or Sequential.save")
        p.add_argument("--data", choices=sorted(DATASETS), default=None,
                       help="test set (default: the dataset with the model's input size)")
        p.add_argument("--seed", type=_seed, default=0, help=argparse.SUPPRESS)
        if name == "convert":
            p.add_argument("--T", type=_duration, default=0.2, help="presentation time per sample (s)")
            p.add_argument("--dt", type=_duration, default=1e-3, help="simulation step (s)")
            p.add_argument("--tau-s", type=_duration, default=0.005, help="synaptic time constant (s)")
            p.add_argument("--batch-size", type=_count, default=None,
                           help="samples per simulated batch (default: SpikingModel.default_batch_size)")
            _add_progress(p)

    demo = sub.add_parser("demo", help="run the toy rate → spiking bridge and write figures", formatter_class=fmt)
    demo.add_argument("--out", default="ratenet_demo", help="output folder for the PNG figures (created if missing)")
    demo.add_argument("--seed", type=_seed, default=0, help="random seed (integer >= 0)")
    demo.add_argument("--hh", action="store_true",
                      help="also measure the Hodgkin–Huxley tuning curve (a few seconds more)")
    return parser


COMMANDS = {"train": _train, "evaluate": _evaluate, "convert": _convert, "demo": _demo}


def main(argv=None):
    """Entry point of ``ratenet``; returns the exit status (0 ok, 2 for any error, 130 when interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, TypeError, SimulationError, OSError) as err:
        print(f"ratenet {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ratenet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
