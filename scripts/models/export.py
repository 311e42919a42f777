"""Converts a fitspec model folder (tfjs layers model + fitspec-model.json) with the converters of
each ecosystem: the tensorflowjs converter to a Keras HDF5 file, Keras 3 to a `.keras` file,
Keras' SavedModel export, TensorFlow's TFLite converter, tf2onnx; and MLflow's own keras flavor
for an MLflow Model. Prints one JSON line: {"files": {format: path}, "versions": {...}}.

usage: python export.py MODEL_DIR OUT_DIR FORMAT [FORMAT ...]
FORMAT: keras | savedmodel | tflite | onnx | mlflow
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def log(msg):
    sys.stderr.write(msg + "\n")


def with_input_shape(model_dir, work, descriptor):
    """model.json as the converter can build it: a Sequential whose first layer is a nested model (a
    pretrained base) says nothing of its input shape in tfjs, and Keras builds such a model, and so
    can load its weights, only when its config has `build_input_shape`."""
    with open(os.path.join(model_dir, "model.json")) as f:
        model_json = json.load(f)
    topology = model_json["modelTopology"]
    topology = topology.get("model_config", topology)
    config = topology.get("config")
    if topology.get("class_name") != "Sequential" or not isinstance(config, dict) or "build_input_shape" in config:
        return os.path.join(model_dir, "model.json")
    config["build_input_shape"] = [None] + descriptor["input"]["shape"][1:]
    for group in model_json["weightsManifest"]:
        for p in group["paths"]:
            shutil.copyfile(os.path.join(model_dir, p), os.path.join(work, p))
    path = os.path.join(work, "model.json")
    with open(path, "w") as f:
        json.dump(model_json, f)
    return path


def keras3_axes(h5):
    """Two things tf.keras writes that Keras 3 refuses when it loads the file: a BatchNormalization
    axis as a list (`[3]`, Keras 3 wants the int) and `groups` on DepthwiseConv2D (always 1 there)."""
    import h5py

    def fix(node):
        if isinstance(node, dict):
            if node.get("class_name") == "BatchNormalization":
                axis = node.get("config", {}).get("axis")
                if isinstance(axis, list) and len(axis) == 1:
                    node["config"]["axis"] = axis[0]
            if node.get("class_name") == "DepthwiseConv2D" and node.get("config", {}).get("groups", 1) == 1:
                node["config"].pop("groups", None)
            for v in node.values():
                fix(v)
        elif isinstance(node, list):
            for v in node:
                fix(v)

    with h5py.File(h5, "r+") as f:
        raw = f.attrs["model_config"]
        config = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        fix(config)
        f.attrs["model_config"] = json.dumps(config)


def to_keras(model_dir, work, descriptor):
    """tfjs layers model -> Keras 2 HDF5 (tensorflowjs converter) -> Keras 3 model."""
    from tensorflowjs.converters import converter

    h5 = os.path.join(work, "model.h5")
    converter.convert(["--input_format", "tfjs_layers_model", "--output_format", "keras", with_input_shape(model_dir, work, descriptor), h5])
    keras3_axes(h5)
    import keras

    return keras.saving.load_model(h5, compile=False)


def save_keras(model, out):
    path = os.path.join(out, "model.keras")
    model.save(path)
    return path


def save_savedmodel(model, out):
    path = os.path.join(out, "savedmodel")
    if os.path.exists(path):
        shutil.rmtree(path)
    # `serve` and `serving_default` signatures, input named as the Keras input.
    model.export(path, format="tf_saved_model", verbose=False)
    return path


def save_tflite(savedmodel, out):
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(savedmodel)
    # Float32 as trained: no quantization, so the interpreter answers what the model answers.
    conv.optimizations = []
    path = os.path.join(out, "model.tflite")
    with open(path, "wb") as f:
        f.write(conv.convert())
    return path


def save_onnx(savedmodel, out, opset):
    path = os.path.join(out, "model.onnx")
    r = subprocess.run(
        [sys.executable, "-m", "tf2onnx.convert", "--saved-model", savedmodel, "--signature_def", "serving_default", "--opset", str(opset), "--output", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if r.returncode != 0:
        raise RuntimeError("tf2onnx failed:\n" + r.stdout[-4000:])
    return path


def save_mlflow(model, descriptor, out):
    """An MLflow Model (keras flavor + python_function) written into OUT beside the tfjs files."""
    import numpy as np
    import mlflow.keras
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema, TensorSpec

    pre = descriptor["preprocessing"]
    signature = ModelSignature(
        # One unnamed tensor: the scoring server then hands the model an array, which every Keras model
        # takes (a named one arrives as a dict keyed by that name, which a Sequential refuses).
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, pre["height"], pre["width"], pre["channels"]))]),
        outputs=Schema([ColSpec("float", c) for c in descriptor["classes"]]),
    )
    metadata = {
        "fitspec": {
            "classes": descriptor["classes"],
            "preprocessing": pre,
            "config_hash": descriptor.get("configHash"),
            "experiment": descriptor.get("experiment"),
            "run_id": descriptor.get("runId"),
            "descriptor": "fitspec-model.json",
        }
    }
    tmp = tempfile.mkdtemp(prefix="mlflow-model-", dir=out)
    target = os.path.join(tmp, "m")
    import keras
    import tensorflow as tf

    # Given, not inferred: inference loads the model again in a subprocess to watch its imports.
    reqs = [f"keras=={keras.__version__}", f"tensorflow=={tf.__version__}"]
    mlflow.keras.save_model(model, target, signature=signature, metadata=metadata, pip_requirements=reqs)
    written = []
    for name in os.listdir(target):
        dst = os.path.join(out, name)
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        elif os.path.exists(dst):
            os.remove(dst)
        shutil.move(os.path.join(target, name), dst)
        written.append(name)
    shutil.rmtree(tmp)
    return os.path.join(out, "MLmodel")


def main():
    model_dir, out, formats = sys.argv[1], sys.argv[2], sys.argv[3:]
    opset = int(os.environ.get("FITSPEC_ONNX_OPSET", "17"))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(model_dir, "fitspec-model.json")) as f:
        descriptor = json.load(f)
    files = {}
    with tempfile.TemporaryDirectory() as work:
        model = to_keras(model_dir, work, descriptor)
        if "keras" in formats:
            files["keras"] = save_keras(model, out)
        savedmodel = None
        if {"savedmodel", "tflite", "onnx"} & set(formats):
            savedmodel = save_savedmodel(model, out if "savedmodel" in formats else work)
            if "savedmodel" in formats:
                files["savedmodel"] = savedmodel
        if "tflite" in formats:
            files["tflite"] = save_tflite(savedmodel, out)
        if "onnx" in formats:
            files["onnx"] = save_onnx(savedmodel, out, opset)
        if "mlflow" in formats:
            files["mlflow"] = save_mlflow(model, descriptor, out)
    import keras
    import tensorflow as tf
    import tensorflowjs

    versions = {"tensorflow": tf.__version__, "keras": keras.__version__, "tensorflowjs": tensorflowjs.__version__}
    if "onnx" in formats:
        import tf2onnx

        versions["tf2onnx"] = tf2onnx.__version__
        versions["onnx_opset"] = opset
    if "mlflow" in formats:
        import mlflow

        versions["mlflow"] = mlflow.__version__
    sys.stdout.write(json.dumps({"files": files, "versions": versions}) + "\n")


if __name__ == "__main__":
    main()
