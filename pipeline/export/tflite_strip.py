"""TFLite files without what no runtime reads: the names of internal tensors, the subgraph's name and the
model's description. The inputs' and outputs' names and the signatures stay (apps and the bundle README
address tensors by them), and so does the metadata (the runtime version the file needs, the conversion's
options). TensorFlow's own `flatbuffer_utils.strip_strings` also drops the signatures, which LiteRT's
signature runner and the bundle's example use: not used here."""

from __future__ import annotations


def strip_internal_names(data: bytes) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    model = fbu.convert_bytearray_to_object(bytearray(data))
    model.description = None
    for subgraph in model.subgraphs:
        subgraph.name = None
        kept = set(subgraph.inputs) | set(subgraph.outputs)
        for index, tensor in enumerate(subgraph.tensors):
            if index not in kept:
                tensor.name = None
    return bytes(fbu.convert_object_to_bytearray(model))
