"""Read a TensorBoard log directory with TensorBoard's own loaders and print JSON.

Usage: python read_tb.py LOGDIR

Output: {
  "records": [{"file", "count", "crc_ok"}],            # raw TFRecord walk with CRC checks
  "file_version": "...",
  "scalars": {tag: [[step, wall_time, value], ...]},     # event_accumulator.EventAccumulator (simple_value path)
  "texts": {tag: [[step, text], ...]},                   # EventAccumulator.Tensors, decoded DT_STRING
  "plugins": {plugin_name: [tags]},                      # plugin_event_accumulator (what the TensorBoard server uses)
  "plugin_scalars": {tag: [[step, value], ...]}          # plugin_event_accumulator tensors for the scalars plugin
}
"""
import glob
import json
import os
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import plugin_event_accumulator as pea
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
from tensorboard.util import tensor_util


def walk_records(path):
    count, ok = 0, True
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off < len(data):
        header = data[off:off + 8]
        (length,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", data[off + 8:off + 12])
        body = data[off + 12:off + 12 + length]
        (dcrc,) = struct.unpack("<I", data[off + 12 + length:off + 16 + length])
        ok = ok and hcrc == masked_crc32c(header) and dcrc == masked_crc32c(body) and len(body) == length
        off += 16 + length
        count += 1
    return {"file": os.path.basename(path), "count": count, "crc_ok": ok, "trailing_ok": off == len(data)}


def main():
    logdir = sys.argv[1]
    out = {"records": [walk_records(p) for p in sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*")))]}

    acc = ea.EventAccumulator(logdir, size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    out["file_version"] = acc.file_version
    tags = acc.Tags()
    out["scalars"] = {t: [[e.step, e.wall_time, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]}
    texts = {}
    for t in tags["tensors"]:
        meta = acc.SummaryMetadata(t)
        if meta.plugin_data.plugin_name != "text":
            continue
        texts[t] = [[e.step, tensor_util.make_ndarray(e.tensor_proto).reshape(-1)[0].decode("utf-8")] for e in acc.Tensors(t)]
    out["texts"] = texts

    pacc = pea.EventAccumulator(logdir, size_guidance={pea.TENSORS: 0})
    pacc.Reload()
    plugins = {}
    for name in pacc.ActivePlugins():
        plugins[name] = sorted(pacc.PluginTagToContent(name).keys())
    out["plugins"] = plugins
    out["plugin_scalars"] = {
        t: [[e.step, float(tensor_util.make_ndarray(e.tensor_proto))] for e in pacc.Tensors(t)]
        for t in plugins.get("scalars", [])
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
