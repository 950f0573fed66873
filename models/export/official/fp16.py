"""Float32 → float16 conversion of an exported ONNX graph (weights, activations, inputs and outputs).

Why here and not at trace time: PyTorch cannot run float16 convolutions on CPU (torch 1.13), and the
official export should work on a CPU-only machine. So every stage is traced in float32 and converted
after, with two exceptions the ONNX spec imposes: Resize's `roi`/`scales` inputs stay float32.

A graph that turns integer sizes into floats (Cast int → float, as a traced `F.interpolate(scale_factor=)`
on dynamic sizes does) is refused: half precision would round sizes above 2048. The diffusers UNet avoids
that path when it is traced at a latent size that is not a multiple of 8 (docs/CODIFF.md).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT, FLOAT16 = TensorProto.FLOAT, TensorProto.FLOAT16
FLOAT16_MAX = 65504.0
INTEGER_TYPES = {
    TensorProto.INT8, TensorProto.INT16, TensorProto.INT32, TensorProto.INT64,
    TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64, TensorProto.BOOL,
}
# Inputs (by position) that the ONNX spec requires to be float32 whatever the data type.
FLOAT32_ONLY_INPUTS = {"Resize": (1, 2), "Upsample": (1,)}


class Float16ConversionError(Exception):
    pass


def _half(tensor: TensorProto) -> TensorProto:
    array = numpy_helper.to_array(tensor)
    converted = numpy_helper.from_array(np.clip(array, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16), tensor.name)
    return converted


def _elem_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every named value, from shape inference on a weightless copy: types and dims are
    all inference needs, and leaving the bytes out keeps the copy small whatever the model's size."""
    skeleton = onnx.ModelProto()
    skeleton.ir_version = model.ir_version
    skeleton.opset_import.extend(model.opset_import)
    graph = skeleton.graph
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    graph.output.extend(model.graph.output)
    for init in model.graph.initializer:
        stub = graph.initializer.add()
        stub.name, stub.data_type = init.name, init.data_type
        stub.dims.extend(init.dims)
    inferred = onnx.shape_inference.infer_shapes(skeleton, strict_mode=False)
    types: dict[str, int] = {}
    g = inferred.graph
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        types[vi.name] = vi.type.tensor_type.elem_type
    for init in g.initializer:
        types[init.name] = init.data_type
    return types


def to_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Converts the graph in place and returns it. Subgraphs (If/Loop/Scan) are not supported."""
    graph = model.graph
    types = _elem_types(model)
    keep: set[str] = set()
    for node in graph.node:
        if node.op_type in ("If", "Loop", "Scan"):
            raise Float16ConversionError(f"{node.op_type} node {node.name}: subgraphs are not supported")
        for index in FLOAT32_ONLY_INPUTS.get(node.op_type, ()):
            if index < len(node.input) and node.input[index]:
                keep.add(node.input[index])

    # Whatever only computes those float32 inputs (a Concat of constants, a Cast) stays float32 too.
    producers = {out: node for node in graph.node for out in node.output}
    pending = list(keep)
    while pending:
        node = producers.get(pending.pop())
        if node is not None and node.op_type in ("Concat", "Cast", "Identity", "Constant", "Unsqueeze", "Mul", "Div"):
            for name in node.input:
                if name and name not in keep:
                    keep.add(name)
                    pending.append(name)

    size_casts = [n.name or n.output[0] for n in graph.node
                  if n.op_type == "Cast" and helper.get_attribute_value(n.attribute[0]) == FLOAT
                  and types.get(n.input[0]) in INTEGER_TYPES and n.output[0] not in keep]
    if size_casts:
        raise Float16ConversionError(
            "integer sizes are cast to float and used in arithmetic (" + ", ".join(size_casts[:5]) + "): trace "
            "at a size that is not a multiple of 8 so that sizes stay integer, or export this stage in float32")

    for i, init in enumerate(graph.initializer):
        if init.data_type == FLOAT and init.name not in keep:
            graph.initializer[i].CopyFrom(_half(init))
    for node in graph.node:
        if node.op_type in ("Constant", "ConstantOfShape") and node.output[0] not in keep:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == FLOAT:
                    attr.t.CopyFrom(_half(attr.t))
        elif node.op_type == "Cast" and node.output[0] not in keep:
            for attr in node.attribute:
                if attr.name == "to" and attr.i == FLOAT:
                    attr.i = FLOAT16
    for value in list(graph.input) + list(graph.output):
        if value.type.tensor_type.elem_type == FLOAT:
            value.type.tensor_type.elem_type = FLOAT16
    graph.ClearField("value_info")  # stale float32 annotations; ONNX Runtime infers its own
    return model
