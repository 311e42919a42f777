"""Loads a `.keras` file with Keras 3 and prints its predictions on one float32 input tensor as JSON.

usage: python keras_predict.py MODEL.keras INPUT.f32 N H W C
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

model_file, data = sys.argv[1], sys.argv[2]
shape = tuple(int(x) for x in sys.argv[3:7])
x = np.fromfile(data, dtype="<f4").reshape(shape)
model = keras.saving.load_model(model_file, compile=False)
y = np.asarray(model.predict(x, verbose=0))
layers = sum(1 for l in model.layers if l.__class__.__name__ != "InputLayer")
sys.stdout.write(json.dumps({"keras": keras.__version__, "params": int(model.count_params()), "layers": layers, "y": y.tolist()}) + "\n")
