"""Builds a Keras Applications convolutional base (include_top=False), converts it with the
tensorflowjs converter to a tfjs layers model, and writes a probe input and Keras' predictions for
it, so that fitspec can check it loads the same network. Random weights (weights=None: nothing is
downloaded; batch normalization statistics made non-trivial, below) unless `imagenet` is given,
which downloads Keras' ImageNet weights.

With `top`, the same network is also built with its 1000-class top (the base's weights copied from
it), and the top's Dense weights and the classifier's probabilities are written too: what the whole
model predicts, which fitspec compares with the base loaded as `model.base` under the experiment's
own top. Keras' float32 outputs are also recomputed in float64 (the same weights), so that the check
can say how close each side is to the exact result.

usage: python keras_to_tfjs.py APPLICATION OUT_DIR HEIGHT WIDTH [imagenet] [top]
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


def in_float64(build, model, x):
    """The same network and weights computed in float64: the exact result float32 approximates."""
    tf_keras.backend.set_floatx("float64")
    try:
        exact = build()
        exact.set_weights([w.astype("f8") for w in model.get_weights()])
        return exact.predict(x.astype("f8"), verbose=0)
    finally:
        tf_keras.backend.set_floatx("float32")


def main():
    app, out, height, width = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    flags = sys.argv[5:]
    weights = "imagenet" if "imagenet" in flags else None
    tf_keras.utils.set_random_seed(SEED)
    application = getattr(tf_keras.applications, app)
    build = lambda include_top: application(weights=weights, include_top=include_top, input_shape=(height, width, 3))  # noqa: E731
    rng = np.random.default_rng(SEED)
    full = build(True) if "top" in flags else None
    model = build(False)
    calibrated = realistic_batch_norm(full if full is not None else model, rng, height, width) if weights is None else 0
    if full is not None:
        for l in model.layers:
            if l.weights:
                l.set_weights(full.get_layer(l.name).get_weights())
    os.makedirs(out, exist_ok=True)
    h5 = os.path.join(out, f"{app.lower()}-notop.h5")
    model.save(h5)
    # The command the docs give: tensorflowjs_converter --input_format keras <app>-notop.h5 DIR
    converter.convert(["--input_format", "keras", h5, out])
    os.remove(h5)

    probe = rng.random((2, height, width, 3), dtype=np.float32)
    pred = model.predict(probe, verbose=0)
    in_float64(lambda: build(False), model, probe).astype("<f8").tofile(os.path.join(out, "keras_prediction.f64"))
    top = None
    if full is not None:
        dense = full.layers[-1]
        kernel, bias = dense.get_weights()
        kernel.astype("<f4").tofile(os.path.join(out, "top_kernel.f32"))
        bias.astype("<f4").tofile(os.path.join(out, "top_bias.f32"))
        probabilities = full.predict(probe, verbose=0)
        probabilities.astype("<f4").tofile(os.path.join(out, "keras_probabilities.f32"))
        in_float64(lambda: build(True), full, probe).astype("<f8").tofile(os.path.join(out, "keras_probabilities.f64"))
        top = {"layer": dense.name, "kernel_shape": list(kernel.shape)}
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
                "top": top,
            },
            f,
            indent=1,
        )
    probe.astype("<f4").tofile(os.path.join(out, "probe.f32"))
    pred.astype("<f4").tofile(os.path.join(out, "keras_prediction.f32"))
    print(f"converted {app} ({model.count_params():,} parameters) to {out}")


if __name__ == "__main__":
    main()
