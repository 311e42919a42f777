"""Builds a Keras Applications convolutional base (include_top=False), converts it with the
tensorflowjs converter to a tfjs layers model, and writes a probe input and Keras' predictions for
it, so that fitspec can check it loads the same network. Random weights (weights=None: nothing is
downloaded; batch normalization statistics made non-trivial, below) unless `imagenet` is given,
which downloads Keras' ImageNet weights.

usage: python keras_to_tfjs.py APPLICATION OUT_DIR HEIGHT WIDTH [imagenet]
  APPLICATION: VGG16 | ResNet50 | MobileNetV2 (any tf_keras.applications name)
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

SEED = 2024


def realistic_batch_norm(model, rng, height, width):
    """weights=None leaves every BatchNormalization at mean 0, variance 1, gamma 1, beta 0: inference
    would be an identity that hides a swapped or ignored statistic. One training-mode pass with
    momentum 0 sets each layer's moving statistics to its batch statistics (activations stay near
    unit scale, as in a trained network); gamma and beta are then drawn at random."""
    bns = [l for l in model.layers if isinstance(l, tf_keras.layers.BatchNormalization)]
    if not bns:
        return 0
    momenta = [l.momentum for l in bns]
    for l in bns:
        l.momentum = 0.0
    model(rng.random((8, height, width, 3), dtype=np.float32), training=True)
    for l, m in zip(bns, momenta):
        l.momentum = m
        gamma, beta, mean, var = l.get_weights()
        l.set_weights(
            [
                rng.uniform(0.5, 1.5, gamma.shape).astype("f4"),
                rng.uniform(-0.5, 0.5, beta.shape).astype("f4"),
                mean,
                var,
            ]
        )
    return len(bns)


def main():
    app, out, height, width = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    weights = "imagenet" if sys.argv[5:] == ["imagenet"] else None
    tf_keras.utils.set_random_seed(SEED)
    model = getattr(tf_keras.applications, app)(weights=weights, include_top=False, input_shape=(height, width, 3))
    rng = np.random.default_rng(SEED)
    calibrated = realistic_batch_norm(model, rng, height, width) if weights is None else 0
    os.makedirs(out, exist_ok=True)
    h5 = os.path.join(out, f"{app.lower()}-notop.h5")
    model.save(h5)
    # The command the docs give: tensorflowjs_converter --input_format keras <app>-notop.h5 DIR
    converter.convert(["--input_format", "keras", h5, out])
    os.remove(h5)

    probe = rng.random((2, height, width, 3), dtype=np.float32)
    pred = model.predict(probe, verbose=0)
    layers = [
        {"name": l.name, "class": l.__class__.__name__, "output_shape": list(l.output.shape[1:]), "params": int(l.count_params())}
        for l in model.layers
    ]
    with open(os.path.join(out, "keras_reference.json"), "w") as f:
        json.dump(
            {
                "application": app,
                "keras": tf_keras.__version__,
                "tensorflowjs": tfjs.__version__,
                "params": int(model.count_params()),
                "batch_normalization_layers": calibrated,
                "layers": layers,
                "probe_shape": list(probe.shape),
                "prediction_shape": list(pred.shape),
            },
            f,
            indent=1,
        )
    probe.astype("<f4").tofile(os.path.join(out, "probe.f32"))
    pred.astype("<f4").tofile(os.path.join(out, "keras_prediction.f32"))
    print(f"converted {app} ({model.count_params():,} parameters) to {out}")


if __name__ == "__main__":
    main()
