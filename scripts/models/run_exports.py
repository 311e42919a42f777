"""Runs exported models in their own runtimes on one float32 input tensor and prints their outputs
as JSON: Keras 3 `load_model` on model.keras, the SavedModel's `serving_default` signature, and the
TFLite interpreter on model.tflite (the ONNX model is run by onnxruntime-node on the Node side).

usage: python run_exports.py EXPORT_DIR INPUT.f32 N H W C
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def main():
    out, data = sys.argv[1], sys.argv[2]
    shape = tuple(int(x) for x in sys.argv[3:7])
    x = np.fromfile(data, dtype="<f4").reshape(shape)
    result = {}
    import keras
    import tensorflow as tf

    model = keras.saving.load_model(os.path.join(out, "model.keras"), compile=False)
    result["keras"] = np.asarray(model.predict(x, verbose=0)).tolist()

    loaded = tf.saved_model.load(os.path.join(out, "savedmodel"))
    fn = loaded.signatures["serving_default"]
    (name, spec), = fn.structured_input_signature[1].items()
    outputs = fn(**{name: tf.constant(x)})
    result["savedmodel"] = next(iter(outputs.values())).numpy().tolist()
    result["savedmodel_signature"] = {"input": name, "shape": spec.shape.as_list(), "dtype": spec.dtype.name}

    interp = tf.lite.Interpreter(model_path=os.path.join(out, "model.tflite"))
    inp = interp.get_input_details()[0]
    interp.resize_tensor_input(inp["index"], list(shape))
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    result["tflite"] = interp.get_tensor(interp.get_output_details()[0]["index"]).tolist()
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
