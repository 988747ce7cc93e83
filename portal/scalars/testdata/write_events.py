#!/usr/bin/python3
"""Writes a TensorBoard event file the way TensorFlow does, independently of
KQI's Go reader: the Event/Summary/TensorProto messages are declared here
from TensorFlow's .proto definitions (field numbers and types as in
tensorflow/core/util/event.proto and core/framework/{summary,tensor}.proto)
and serialized by Debian's python3-protobuf; the TFRecord framing and its
masked CRC-32C are written below.

usage: write_events.py OUT_FILE   (prints the scalars written as JSON)
"""
import json
import struct
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def field(msg, name, number, ftype, label=F.LABEL_OPTIONAL, type_name=None, oneof=None):
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name
    if oneof is not None:
        f.oneof_index = oneof


def build():
    fd = descriptor_pb2.FileDescriptorProto(name="kqi_test_event.proto", package="tensorflow", syntax="proto3")
    dt = fd.enum_type.add(name="DataType")
    for name, number in (("DT_INVALID", 0), ("DT_FLOAT", 1), ("DT_DOUBLE", 2)):
        dt.value.add(name=name, number=number)

    tensor = fd.message_type.add(name="TensorProto")
    field(tensor, "dtype", 1, F.TYPE_ENUM, type_name=".tensorflow.DataType")
    field(tensor, "tensor_content", 4, F.TYPE_BYTES)
    field(tensor, "float_val", 5, F.TYPE_FLOAT, F.LABEL_REPEATED)
    field(tensor, "double_val", 6, F.TYPE_DOUBLE, F.LABEL_REPEATED)

    meta = fd.message_type.add(name="SummaryMetadata")
    plugin = meta.nested_type.add(name="PluginData")
    field(plugin, "plugin_name", 1, F.TYPE_STRING)
    field(plugin, "content", 2, F.TYPE_BYTES)
    field(meta, "plugin_data", 1, F.TYPE_MESSAGE, type_name=".tensorflow.SummaryMetadata.PluginData")

    summary = fd.message_type.add(name="Summary")
    value = summary.nested_type.add(name="Value")
    value.oneof_decl.add(name="value")
    field(value, "node_name", 7, F.TYPE_STRING)
    field(value, "tag", 1, F.TYPE_STRING)
    field(value, "metadata", 9, F.TYPE_MESSAGE, type_name=".tensorflow.SummaryMetadata")
    field(value, "simple_value", 2, F.TYPE_FLOAT, oneof=0)
    field(value, "tensor", 8, F.TYPE_MESSAGE, type_name=".tensorflow.TensorProto", oneof=0)
    field(summary, "value", 1, F.TYPE_MESSAGE, F.LABEL_REPEATED, type_name=".tensorflow.Summary.Value")

    event = fd.message_type.add(name="Event")
    event.oneof_decl.add(name="what")
    field(event, "wall_time", 1, F.TYPE_DOUBLE)
    field(event, "step", 2, F.TYPE_INT64)
    field(event, "file_version", 3, F.TYPE_STRING, oneof=0)
    field(event, "graph_def", 4, F.TYPE_BYTES, oneof=0)
    field(event, "summary", 5, F.TYPE_MESSAGE, type_name=".tensorflow.Summary", oneof=0)

    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    return factory.GetPrototype(pool.FindMessageTypeByName("tensorflow.Event"))


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data):
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked(length)) + data + struct.pack("<I", masked(data))


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


def main(out):
    Event = build()
    written = {"loss": [], "accuracy": [], "lr": []}
    records = [Event(wall_time=1700000000.0, file_version="brain.Event:2").SerializeToString()]
    # A graph event: not a scalar, skipped by readers of scalars.
    records.append(Event(wall_time=1700000000.5, graph_def=b"\x0a\x03abc").SerializeToString())
    for step in range(0, 50, 5):
        ev = Event(wall_time=1700000001.0 + step, step=step)
        loss = 2.0 / (step + 1)
        v = ev.summary.value.add(tag="loss", simple_value=loss)  # TF1 and PyTorch style
        acc = step / 50.0
        v = ev.summary.value.add(tag="accuracy")  # tf.summary.scalar (TF2) style
        v.metadata.plugin_data.plugin_name = "scalars"
        v.tensor.dtype = 1
        v.tensor.float_val.append(acc)
        lr = 0.1 * 0.9 ** step
        v = ev.summary.value.add(tag="lr")  # a double scalar in tensor_content
        v.metadata.plugin_data.plugin_name = "scalars"
        v.tensor.dtype = 2
        v.tensor.tensor_content = struct.pack("<d", lr)
        records.append(ev.SerializeToString())
        written["loss"].append([step, f32(loss)])
        written["accuracy"].append([step, f32(acc)])
        written["lr"].append([step, lr])
    with open(out, "wb") as f:
        for r in records:
            f.write(record(r))
    json.dump(written, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
