"""A classifier's plain layers (:mod:`.plain_layers`) as an ONNX graph, built with the
``onnx`` package: input ``pixels`` (N, C, H, W) as 0..255 values, normalised inside the
graph exactly as nnpipe normalises them, outputs ``logits`` and ``probabilities``.
Dropout is left out (inference)."""
from __future__ import annotations

import numpy as np

from .plain_layers import plain_layers, torch_state_dict

OPSET = 17  # ONNX Runtime 1.14 and later; a GELU needs opset 20


def onnx_model(model, input_shape, mean, std, producer_version):
    """The ONNX ModelProto of the Sequential ``model`` for images of ``input_shape`` (C, H, W)."""
    from onnx import TensorProto, checker, helper, numpy_helper

    weights = torch_state_dict(model)
    initializers, nodes = [], []

    def constant(name, array):
        initializers.append(numpy_helper.from_array(np.asarray(array, np.float32), name))
        return name

    def node(op, inputs, **attributes):
        output = f"{op.lower()}_{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    shape = (1, len(mean), 1, 1)
    x = node("Div", ["pixels", constant("255", [255.0])])
    x = node("Sub", [x, constant("mean", np.reshape(mean, shape))])
    x = node("Div", [x, constant("std", np.reshape(std, shape))])
    gelu = False
    for position, layer in enumerate(plain_layers(model)):
        args, params = layer.args, [constant(f"{position}.{name}", weights[f"{position}.{name}"])
                                    for name in layer.params]
        if layer.kind == "Linear":
            x = node("Gemm", [x, *params], transB=1)
        elif layer.kind == "Conv2d":
            x = node("Conv", [x, *params], **_window(args))
        elif layer.kind in ("MaxPool2d", "AvgPool2d"):
            x = node("MaxPool" if layer.kind == "MaxPool2d" else "AveragePool", [x], **_window(args))
        elif layer.kind in ("BatchNorm1d", "BatchNorm2d"):
            scale, bias, running_mean, running_var = params
            x = node("BatchNormalization", [x, scale, bias, running_mean, running_var], epsilon=args["eps"])
        elif layer.kind == "Flatten":
            x = node("Flatten", [x], axis=1)
        elif layer.kind == "LeakyReLU":
            x = node("LeakyRelu", [x], alpha=args["negative_slope"])
        elif layer.kind == "GELU":
            x, gelu = node("Gelu", [x], approximate="tanh"), True
        elif layer.kind != "Dropout":  # ReLU, Sigmoid, Tanh
            x = node({"ReLU": "Relu"}.get(layer.kind, layer.kind), [x])
    nodes.append(helper.make_node("Identity", [x], ["logits"], name="logits"))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], name="probabilities", axis=1))
    batch = ["N", *input_shape]
    graph = helper.make_graph(
        nodes, "nnpipe", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, batch)],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", None]) for name in ("logits", "probabilities")],
        initializers)
    proto = helper.make_model(graph, producer_name="nnpipe", producer_version=producer_version,
                              opset_imports=[helper.make_opsetid("", 20 if gelu else OPSET)])
    checker.check_model(proto)
    return proto


def _window(args):
    """A convolution's or pooling's window as ONNX's attributes (pads: both ends of each axis)."""
    return {"kernel_shape": args["kernel_size"], "strides": args["stride"], "pads": args["padding"] * 2}
