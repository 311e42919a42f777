"""Prints, as JSON, the layers of Keras Applications models built with weights=None (no download):
name, class, parameter count and output shape of every layer, and the totals.

usage: keras_applications.py ResNet50 MobileNetV2 ...
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

out = {}
for name in sys.argv[1:]:
    model = getattr(keras.applications, name)(weights=None)
    out[name] = {
        "total": model.count_params(),
        "layers": [
            {"name": l.name, "class": l.__class__.__name__, "params": l.count_params(), "shape": [d for d in l.output.shape]}
            for l in model.layers
        ],
    }
json.dump(out, sys.stdout)
