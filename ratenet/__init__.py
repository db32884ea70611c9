"""ratenet: feed-forward backprop rate networks in numpy.

Every public name is importable from here, e.g. ``ratenet.Dense``,
``ratenet.Sequential``, ``ratenet.Adam``, ``ratenet.CategoricalCrossEntropy``.
"""
from .parameter import Parameter
from . import initializers
from .layers import Layer, Dense, Dropout, BatchNorm, Conv2D, AvgPool2D, MaxPool2D, Flatten
from .activations import (Activation, Identity, Step, Sigmoid, Tanh, HardTanh, Softsign,
                          ReLU, LeakyReLU, Softplus, Softmax, LogSoftmax, get_activation,
                          one_hot, argmax, to_labels)
from .losses import (Loss, MSE, BinaryCrossEntropy, CategoricalCrossEntropy, NLLLoss,
                     Hinge, get_loss)
from .model import Sequential, load
from .checks import gradient_check, gradient_norms
from .spiking.activations import LIFRate, SoftLIFRate, TuningCurveActivation
from .spiking.convert import to_spiking, SpikingModel, SpikingResult
from .spiking.network import SpikingNetwork
from .torch import to_torch, from_torch
from . import autodiff
from .optimizers import Optimizer, SGD, Adagrad, RMSprop, Adadelta, Adam
from . import schedules
from .schedules import Constant, StepDecay, ExponentialDecay, InverseDecay
from .callbacks import History, Callback, EarlyStopping, TrainingDiverged
from .training import fit, evaluate
from . import data
from .data import (Standardizer, PCAWhitening, ZCAWhitening, train_test_split,
                   train_val_test_split, batches, xor, noisy_mapping, dose_sugar, load_digits_split)
from . import plotting

__all__ = [
    "Parameter", "initializers",
    "Layer", "Dense", "Dropout", "BatchNorm", "Conv2D", "AvgPool2D", "MaxPool2D", "Flatten",
    "Activation", "Identity", "Step", "Sigmoid", "Tanh", "HardTanh", "Softsign", "ReLU", "LeakyReLU",
    "Softplus", "Softmax", "LogSoftmax", "get_activation", "one_hot", "argmax", "to_labels",
    "Loss", "MSE", "BinaryCrossEntropy", "CategoricalCrossEntropy", "NLLLoss", "Hinge", "get_loss",
    "Sequential", "load", "gradient_check", "gradient_norms",
    "LIFRate", "SoftLIFRate", "TuningCurveActivation", "to_spiking", "SpikingModel", "SpikingResult",
    "SpikingNetwork", "autodiff",
    "Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam",
    "schedules", "Constant", "StepDecay", "ExponentialDecay", "InverseDecay",
    "History", "Callback", "EarlyStopping", "TrainingDiverged", "fit", "evaluate",
    "data", "Standardizer", "PCAWhitening", "ZCAWhitening", "train_test_split", "train_val_test_split",
    "batches", "xor", "noisy_mapping", "dose_sugar", "load_digits_split", "plotting",
]

__version__ = "0.2.0"
