"""Builds Keras' VGG16 convolutional base, converts it with the tensorflowjs converter to a tfjs
layers model, and writes a probe input and Keras' predictions for it, so that fitspec can check it
loads the same network. Random weights (weights=None: nothing is downloaded) unless `imagenet` is
given, which downloads Keras' ImageNet weights.

usage: python vgg16_to_tfjs.py OUT_DIR HEIGHT WIDTH [imagenet]
"""
import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tf_keras
import tensorflowjs as tfjs
from tensorflowjs.converters import converter


def main():
    out, height, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    weights = "imagenet" if sys.argv[4:] == ["imagenet"] else None
    model = tf_keras.applications.VGG16(weights=weights, include_top=False, input_shape=(height, width, 3))
    os.makedirs(out, exist_ok=True)
    h5 = os.path.join(out, "vgg16-notop.h5")
    model.save(h5)
    # The command the README gives: tensorflowjs_converter --input_format keras vgg16-notop.h5 DIR
    converter.convert(["--input_format", "keras", h5, out])
    os.remove(h5)

    rng = np.random.default_rng(2024)
    probe = rng.random((2, height, width, 3), dtype=np.float32)
    pred = model.predict(probe, verbose=0)
    layers = [
        {"name": l.name, "class": l.__class__.__name__, "output_shape": list(l.output.shape[1:]), "params": int(l.count_params())}
        for l in model.layers
    ]
    with open(os.path.join(out, "keras_reference.json"), "w") as f:
        json.dump(
            {
                "keras": tf_keras.__version__,
                "tensorflowjs": tfjs.__version__,
                "params": int(model.count_params()),
                "layers": layers,
                "probe_shape": list(probe.shape),
                "prediction_shape": list(pred.shape),
            },
            f,
            indent=1,
        )
    probe.astype("<f4").tofile(os.path.join(out, "probe.f32"))
    pred.astype("<f4").tofile(os.path.join(out, "keras_prediction.f32"))
    print(f"converted VGG16 ({model.count_params():,} parameters) to {out}")


if __name__ == "__main__":
    main()
