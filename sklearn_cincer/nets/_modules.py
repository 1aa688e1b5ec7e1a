"""The paper's networks as torch modules: FC, CNN and logistic regression.

Every module takes the number of input features and of classes as its first
two arguments, so that a skorch classifier can build it once it has seen the
data, and returns *logits*: the softmax of the paper's output layer is applied
by the loss (``torch.nn.CrossEntropyLoss``) and by ``predict_proba``. The last
layer is a ``torch.nn.Linear`` named ``output``; its input is ``h(x)``.
"""

import math

from torch import nn


class FCNet(nn.Module):
    """The paper's fully connected network ("fullnet").

    ``Linear(n_features, 64) - ReLU - Dropout - Linear(64, 32) - ReLU -
    Dropout - Linear(32, n_classes)``, returning logits. Inputs of any shape
    are flattened first.

    Parameters
    ----------
    n_features : int
        Number of input features (after flattening).
    n_classes : int
        Number of outputs.
    hidden : tuple of int, default=(64, 32)
        Widths of the hidden layers.
    dropout : float, default=0.2
        Dropout rate after each hidden layer.

    Examples
    --------
    >>> import torch
    >>> from sklearn_cincer.nets import FCNet
    >>> FCNet(64, 10)(torch.zeros(5, 64)).shape
    torch.Size([5, 10])
    """

    def __init__(self, n_features, n_classes, hidden=(64, 32), dropout=0.2):
        super().__init__()
        layers = [nn.Flatten()]
        width = int(n_features)
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(dropout)]
            width = units
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(width, int(n_classes))

    def forward(self, X):
        return self.output(self.hidden(X))


def image_shape_for(n_features, image_shape=None):
    """``(channels, height, width)`` of flat rows of ``n_features`` values.

    ``None`` reads square single-channel images (64 values: 8x8; 784: 28x28);
    ``(h, w)`` means one channel.
    """
    n_features = int(n_features)
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"ConvNet cannot guess the image shape of {n_features} features "
                "(not a square number); pass image_shape=(channels, height, width)."
            )
        shape = (1, side, side)
    else:
        shape = tuple(int(s) for s in image_shape)
        if len(shape) == 2:
            shape = (1,) + shape
        if len(shape) != 3:
            raise ValueError(
                f"image_shape must be (height, width) or (channels, height, "
                f"width), got {shape}."
            )
        if math.prod(shape) != n_features:
            raise ValueError(
                f"image_shape {shape} holds {math.prod(shape)} values but the "
                f"input has {n_features} features."
            )
    return shape


class ConvNet(nn.Module):
    """The paper's convolutional network ("convnet").

    ``Conv2d(32, 3x3) - ReLU - MaxPool(2) - Conv2d(64, 3x3) - ReLU - Flatten -
    Linear(64) - ReLU - Dropout - Linear(n_classes)``, returning logits. The
    convolutions are unpadded, as in Keras; the size of the dense layer's
    input follows from the image size, so 8x8 digits and 28x28 MNIST both
    work (images must be at least 8x8).

    Parameters
    ----------
    n_features : int
        Number of input values per example (``channels * height * width``).
        Inputs may come flat, ``(n, n_features)``, or as images.
    n_classes : int
        Number of outputs.
    image_shape : tuple or None, default=None
        ``(channels, height, width)`` or ``(height, width)``; ``None`` for
        square single-channel images.
    dropout : float, default=0.2
        Dropout rate before the output layer.

    Examples
    --------
    >>> import torch
    >>> from sklearn_cincer.nets import ConvNet
    >>> ConvNet(64, 10)(torch.zeros(2, 64)).shape  # 8x8 digits
    torch.Size([2, 10])
    >>> ConvNet(784, 10)(torch.zeros(2, 1, 28, 28)).shape  # MNIST
    torch.Size([2, 10])
    """

    def __init__(self, n_features, n_classes, image_shape=None, dropout=0.2):
        super().__init__()
        channels, height, width = image_shape_for(n_features, image_shape)
        self.image_shape = (channels, height, width)
        h, w = (height - 2) // 2 - 2, (width - 2) // 2 - 2
        if h < 1 or w < 1:
            raise ValueError(
                f"ConvNet needs images of at least 8x8 pixels, got {height}x{width}."
            )
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * h * w, 64),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        self.output = nn.Linear(64, int(n_classes))

    def forward(self, X):
        return self.output(self.features(X.reshape(-1, *self.image_shape)))


class LogRegNet(nn.Module):
    """Multinomial logistic regression as a network: one linear layer.

    Parameters
    ----------
    n_features : int
        Number of input features (inputs are flattened).
    n_classes : int
        Number of outputs.

    Examples
    --------
    >>> import torch
    >>> from sklearn_cincer.nets import LogRegNet
    >>> LogRegNet(4, 3)(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_features, n_classes):
        super().__init__()
        self.flatten = nn.Flatten()
        self.output = nn.Linear(int(n_features), int(n_classes))

    def forward(self, X):
        return self.output(self.flatten(X))
