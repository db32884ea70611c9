"""Cost of each activation beside ReLU's, and of a training epoch with SoftLIFRate vs ReLU.

1. forward + backward of every ratenet activation on a (32, 128) float32 batch
   (the digits network's hidden layer), in microseconds and as a ratio to ReLU;
2. seconds per epoch of the digits network 64-128-10 (batch 32, Adam, softmax
   cross-entropy) with a ReLU or a SoftLIFRate hidden layer, timed side by side
   in one process (alternating, best of ``--repeat``). Target (issue 13):
   SoftLIFRate epoch <= 1.5 x ReLU epoch.
3. the float32 accuracy of the LIF activations: largest relative difference of
   the float32 output (and derivative) from the float64 computation.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/activations.py
"""
import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # before numpy loads its BLAS

import time  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

import neurosim  # noqa: E402
import ratenet  # noqa: E402


def activations():
    J = np.linspace(0.0, 5.0, 60)
    return {
        "ReLU": ratenet.ReLU(), "Sigmoid": ratenet.Sigmoid(), "Tanh": ratenet.Tanh(),
        "LeakyReLU": ratenet.LeakyReLU(), "Softplus": ratenet.Softplus(),
        "HardTanh": ratenet.HardTanh(), "Softsign": ratenet.Softsign(),
        "LIFRate": ratenet.LIFRate(amplitude=1 / 63),
        "SoftLIFRate": ratenet.SoftLIFRate(amplitude=1 / 63),
        "TuningCurveActivation": ratenet.TuningCurveActivation(J, neurosim.LIF().rate(J), amplitude=1 / 63,
                                                               offset=1.0),
    }


def time_fwd_bwd(act, X, dY, number=2000, repeat=5):
    def step():
        act.forward(X.copy(), training=True)
        act.backward(dY.copy())
    step()
    return min(timeit.repeat(step, number=number, repeat=repeat)) / number


def epoch_times(hidden_act, X, y, epochs, seed=0):
    model = ratenet.Sequential([ratenet.Dense(64, 128, rng=seed), hidden_act,
                                ratenet.Dense(128, 10, rng=seed + 1), ratenet.Softmax()])
    times = []

    class Clock(ratenet.Callback):
        def on_epoch_end(self, epoch, logs):
            now = time.perf_counter()
            times.append(now - self.t)
            self.t = now

    clock = Clock()
    clock.t = time.perf_counter()
    model.fit(X, y, loss=ratenet.CategoricalCrossEntropy(), optimizer=ratenet.Adam(lr=1e-3),
              epochs=epochs, batch_size=32, rng=seed, verbose=0, callbacks=[clock])
    return min(times)


def float32_error():
    z = np.concatenate([np.linspace(-3, 3, 20001), -np.logspace(-3, 4, 2000), np.logspace(-3, 3, 2000)])
    rows = []
    for act in (ratenet.LIFRate(amplitude=1 / 63), ratenet.SoftLIFRate(amplitude=1 / 63)):
        y64, d64 = act.function(z), act.derivative(z)
        z32 = z.astype(np.float32)
        ref_y, ref_d = act.function(z32.astype(np.float64)), act.derivative(z32.astype(np.float64))
        y32, d32 = act.function(z32), act.derivative(z32)
        ok = ref_y > 0
        ey = np.max(np.abs(y32[ok] - ref_y[ok]) / ref_y[ok])
        ok = ref_d > 0
        ed = np.max(np.abs(d32[ok] - ref_d[ok]) / ref_d[ok])
        rows.append((type(act).__name__, ey, ed))
        del y64, d64
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=3, help="epochs per timed fit (best epoch counts)")
    p.add_argument("--repeat", type=int, default=3, help="alternating ReLU/SoftLIF fits")
    a = p.parse_args(argv)

    rng = np.random.default_rng(0)
    X = rng.normal(0, 0.5, (32, 128)).astype(np.float32)
    dY = rng.normal(0, 1, (32, 128)).astype(np.float32)
    print("forward + backward, (32, 128) float32 batch")
    times = {name: time_fwd_bwd(act, X, dY) for name, act in activations().items()}
    for name, t in times.items():
        print(f"  {name:22s} {t * 1e6:8.1f} us   {t / times['ReLU']:6.1f} x ReLU")

    try:
        X_tr, _, y_tr, _ = ratenet.load_digits_split()
    except ImportError:
        print("digits epoch: skipped (needs scikit-learn: pip install scikit-learn)")
    else:
        best = {"ReLU": np.inf, "SoftLIFRate": np.inf}
        for _ in range(a.repeat):
            best["ReLU"] = min(best["ReLU"], epoch_times(ratenet.ReLU(), X_tr, y_tr, a.epochs))
            best["SoftLIFRate"] = min(best["SoftLIFRate"], epoch_times(
                ratenet.SoftLIFRate(amplitude=1 / 63), X_tr, y_tr, a.epochs))
        print("digits 64-128-10, batch 32, Adam: seconds per epoch (best)")
        for name, t in best.items():
            print(f"  {name:22s} {t * 1e3:8.2f} ms   {t / best['ReLU']:5.2f} x ReLU")
        print(f"  target: SoftLIFRate <= 1.5 x ReLU: {'met' if best['SoftLIFRate'] <= 1.5 * best['ReLU'] else 'NOT met'}")

    print("float32 vs float64 (same float32 inputs): largest relative difference")
    for name, ey, ed in float32_error():
        print(f"  {name:22s} output {ey:.1e}   derivative {ed:.1e}")


if __name__ == "__main__":
    main()
