"""TFLite files without what no runtime reads: the names of internal tensors, the subgraph's name and the
model's description. The inputs' and outputs' names and the signatures stay (apps and the bundle README
address tensors by them), named by the bundles' one I/O contract: input "waveform" (end-to-end) or "mfcc",
outputs "probabilities" (and "mfcc" for end-to-end files), whatever the converter called them, so an app swaps
one bundle for another by changing the file. The metadata stays (the runtime version the file needs, the
conversion's options). TensorFlow's own `flatbuffer_utils.strip_strings` also drops the signatures, which
LiteRT's signature runner and the bundle's example use: not used here."""

from __future__ import annotations

from pipeline.export.tflite_stitch import INPUT_NAME, MFCC_NAME, PROBABILITIES_NAME


def _name(tensor) -> str:
    return tensor.name.decode() if isinstance(tensor.name, bytes) else (tensor.name or "")


def contract_names(subgraph, signatures) -> None:
    """The contract's names on the subgraph's input and outputs, and on the signatures' maps."""
    (i,) = subgraph.inputs
    if _name(subgraph.tensors[i]) != INPUT_NAME:
        subgraph.tensors[i].name = MFCC_NAME  # a feature-input model: SavedModel's serving_default_mfcc:0
    for o in subgraph.outputs:
        if _name(subgraph.tensors[o]) != MFCC_NAME:
            subgraph.tensors[o].name = PROBABILITIES_NAME  # SavedModel's StatefulPartitionedCall_1:0
    for sig in signatures or []:
        for tensor_map in [*sig.inputs, *sig.outputs]:
            tensor_map.name = _name(subgraph.tensors[tensor_map.tensorIndex])


def strip_internal_names(data: bytes) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    model = fbu.convert_bytearray_to_object(bytearray(data))
    model.description = None
    (subgraph,) = model.subgraphs
    contract_names(subgraph, model.signatureDefs)
    subgraph.name = None
    kept = set(subgraph.inputs) | set(subgraph.outputs)
    for index, tensor in enumerate(subgraph.tensors):
        if index not in kept:
            tensor.name = None
    return bytes(fbu.convert_object_to_bytearray(model))
