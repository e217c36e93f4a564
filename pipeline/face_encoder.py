"""dlib's face-recognition network, run with numpy's BLAS instead of dlib's own loops.

dlib-bin ships without a BLAS, so its encoder spends its time in plain C++ loops. The same
network as im2col plus one float32 matrix product per convolution takes a fraction of that, and
its encodings match dlib's to about 1e-6 (tests/pipeline/test_face_encoder.py compares them on
every fixture face), so the enrolled targets and the tolerance stay as they are.

The weights come from face_recognition_models' `dlib_face_recognition_resnet_model_v1.dat`. dlib
writes a network input-first, each layer as its type name and fields: tensors as raw little-endian
float32, other numbers as dlib's variable-length integers (a byte holding the length and a sign
bit, then that many little-endian bytes) or as a mantissa and an exponent.

The network: the chip minus the mean colour, over 256; a 7×7 stride-2 convolution, a 3×3 stride-2
max pool; residual blocks of two 3×3 convolutions, each block adding its input to its output. A
block whose first convolution has stride 2 adds a 2×2 average pool of its input instead, and the
sum takes the larger grid and channel count of the two, the smaller one padded with zeros (as
dlib's add_prev does). Every convolution is followed by an affine layer (a frozen batch norm),
folded into its weights here. Then the mean over the grid and a 256→128 product without bias.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: The face chip the network reads: dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING).
CHIP_SIZE = 150
CHIP_PADDING = 0.25


class ModelFormatError(ValueError):
    """The model file is not the network this module knows how to run."""


@dataclass(frozen=True)
class _Conv:
    weights: np.ndarray  # (size * size * channels_in, channels_out), rows in (row, column, channel) order
    bias: np.ndarray
    size: int
    stride: int
    padding: int
    starts_block: bool  # its input is the block's input, which the block adds back at its end


@dataclass(frozen=True)
class _Step:
    kind: str  # "relu", "max_pool", "avg_pool" (a block's shortcut), "add", "global_avg", "fc"
    weights: np.ndarray | None = None


class _Reader:
    """dlib's serialisation, read forward from an offset."""

    def __init__(self, data: bytes, offset: int) -> None:
        self.data, self.offset = data, offset

    def integer(self) -> int:
        head = self.data[self.offset]
        length, negative = head & 0x0F, head & 0x80
        value = int.from_bytes(self.data[self.offset + 1 : self.offset + 1 + length], "little")
        self.offset += 1 + length
        return -value if negative else value

    def text(self) -> str:
        length = self.integer()
        value = self.data[self.offset : self.offset + length].decode("ascii")
        self.offset += length
        return value

    def real(self) -> float:
        mantissa = self.integer()
        return mantissa * 2.0 ** self.integer()

    def tensor(self) -> np.ndarray:
        if self.integer() != 2:
            raise ModelFormatError("the model file has a tensor in a layout this encoder does not read")
        count = 1
        for _ in range(4):
            count *= self.integer()
        if self.offset + 4 * count > len(self.data):
            raise ModelFormatError("the model file ends inside a tensor")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.offset).astype(np.float32)
        self.offset += 4 * count
        return values


#: A layer's type name as dlib writes it (its length, then the name): the layers this network has.
_LAYER_NAME = re.compile(
    rb"\x01[\x04-\x15](input_rgb_image_sized|con_4|affine_|relu_|max_pool_2|avg_pool_2|add_prev_|fc_2)"
)


class FaceEncoder:
    """The 128-d encoding of a face chip, as dlib's `face_recognition_model_v1` computes it."""

    def __init__(self, data: bytes) -> None:
        """Read the network from the model file's bytes; raises ModelFormatError for another network."""
        self._mean, self._steps = _read(data)

    @classmethod
    def load(cls, path: str | Path) -> FaceEncoder:
        return cls(Path(path).read_bytes())

    def encode(self, chip: np.ndarray) -> np.ndarray:
        """`chip`: CHIP_SIZE² RGB uint8, from dlib.get_face_chip. Returns float64 (128,)."""
        x = (chip.astype(np.float32) - self._mean) / np.float32(256.0)
        block_input = shortcut = x
        for step in self._steps:
            if isinstance(step, _Conv):
                if step.starts_block:
                    block_input = shortcut = x
                x = _convolve(x, step)
            elif step.kind == "relu":
                np.maximum(x, 0, out=x)
            elif step.kind == "max_pool":
                x = sliding_window_view(x, (3, 3, 1))[::2, ::2].max(axis=(3, 4, 5))
            elif step.kind == "avg_pool":
                rows, cols = (block_input.shape[0] - 2) // 2 + 1, (block_input.shape[1] - 2) // 2 + 1
                pooled = block_input[: 2 * rows, : 2 * cols].reshape(rows, 2, cols, 2, -1)
                shortcut = pooled.mean(axis=(1, 3), dtype=np.float32)
            elif step.kind == "add":
                x = _add_padded(x, shortcut)
            elif step.kind == "global_avg":
                x = x.mean(axis=(0, 1), dtype=np.float32)
            else:  # fc
                assert step.weights is not None
                x = x @ step.weights
        return x.astype(np.float64)


def _convolve(x: np.ndarray, conv: _Conv) -> np.ndarray:
    if conv.padding:
        pad = conv.padding
        x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    # Windows over all three axes: (rows, cols, 1, size, size, channels), already in the weights' order.
    windows = sliding_window_view(x, (conv.size, conv.size, x.shape[2]))[:: conv.stride, :: conv.stride, 0]
    rows, cols = windows.shape[:2]
    columns = windows.reshape(rows * cols, -1)
    out = columns @ conv.weights
    out += conv.bias
    return out.reshape(rows, cols, -1)


def _add_padded(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.shape == b.shape:
        return a + b
    out = np.zeros(tuple(max(i, j) for i, j in zip(a.shape, b.shape, strict=True)), np.float32)
    out[: a.shape[0], : a.shape[1], : a.shape[2]] = a
    out[: b.shape[0], : b.shape[1], : b.shape[2]] += b
    return out


def _read(data: bytes) -> tuple[np.ndarray, list[_Conv | _Step]]:
    """The mean colour and the steps, affine layers folded into the convolutions before them."""
    mean: np.ndarray | None = None
    steps: list[_Conv | _Step] = []
    pending: tuple[np.ndarray, np.ndarray, int, int, int] | None = None  # a convolution awaiting its affine
    block_convs = 0  # the convolutions after the first one, in pairs: the first of each pair starts a block
    offset = 0
    while (match := _LAYER_NAME.search(data, offset)) is not None:
        reader = _Reader(data, match.start())
        name = reader.text()
        if name == "input_rgb_image_sized":
            mean = np.array([reader.real() for _ in range(3)], np.float32)
            if (reader.integer(), reader.integer()) != (CHIP_SIZE, CHIP_SIZE):
                raise ModelFormatError("the model file's network reads another chip size")
        elif name == "con_4":
            params = reader.tensor()
            filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(7))
            if rows != cols or stride_y != stride_x or pad_y != pad_x or pending is not None:
                raise ModelFormatError("the model file has a convolution this encoder does not run")
            channels = (params.size - filters) // (filters * rows * cols)
            kernels = params[: filters * channels * rows * cols].reshape(filters, channels, rows, cols)
            matrix = kernels.transpose(2, 3, 1, 0).reshape(-1, filters)
            pending = (matrix, params[filters * channels * rows * cols :], rows, stride_y, pad_y)
        elif name == "affine_":
            params = reader.tensor()
            if pending is None or params.size != 2 * pending[0].shape[1]:
                raise ModelFormatError("the model file has an affine layer that follows no convolution")
            gamma, beta = params[: params.size // 2], params[params.size // 2 :]
            matrix, bias, size, stride, padding = pending
            starts_block = bool(steps) and block_convs % 2 == 0
            block_convs += bool(steps)
            steps.append(_Conv(matrix * gamma, bias * gamma + beta, size, stride, padding, starts_block))
            pending = None
        elif name in ("max_pool_2", "avg_pool_2"):
            rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(6))
            if name == "max_pool_2" and (rows, cols, stride_y, stride_x, pad_y, pad_x) == (3, 3, 2, 2, 0, 0):
                steps.append(_Step("max_pool"))
            elif name == "avg_pool_2" and (rows, cols, stride_y, stride_x, pad_y, pad_x) == (2, 2, 2, 2, 0, 0):
                steps.append(_Step("avg_pool"))
            elif name == "avg_pool_2" and (rows, cols, stride_y, stride_x) == (0, 0, 1, 1):
                steps.append(_Step("global_avg"))
            else:
                raise ModelFormatError("the model file has a pooling layer this encoder does not run")
        elif name == "relu_":
            steps.append(_Step("relu"))
        elif name == "add_prev_":
            steps.append(_Step("add"))
        else:  # fc_2
            outputs, inputs = reader.integer(), reader.integer()
            params = reader.tensor()
            if params.size != inputs * outputs:
                raise ModelFormatError("the model file's last layer has a bias this encoder does not add")
            steps.append(_Step("fc", params.reshape(inputs, outputs)))
        offset = reader.offset
    last = steps[-1] if steps else None
    if mean is None or not isinstance(last, _Step) or last.kind != "fc" or pending is not None or block_convs % 2:
        raise ModelFormatError("the model file is not dlib's face-recognition network")
    return mean, steps
