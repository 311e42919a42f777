"""Keras' side of `npm run bench:keras-curves`: the notebook's baseline CNN trained by Keras 3 with
model.fit on the images and split fitspec trained on (uint8 pixels written by run.ts).

    python keras_fit.py DIR   (DIR/meta.json, DIR/{train,validation}.u8, DIR/{train,validation}-labels.u8)

Prints one JSON line: {"val_loss": [...], "val_accuracy": [...], "loss": [...], "accuracy": [...]}.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import keras  # noqa: E402


def main(folder):
    meta = json.load(open(os.path.join(folder, "meta.json")))
    s, k = meta["size"], meta["classes"]

    def part(name):
        x = np.fromfile(os.path.join(folder, f"{name}.u8"), dtype=np.uint8).reshape(-1, s, s, 3).astype(np.float32) * np.float32(meta["rescale"])
        y = keras.utils.to_categorical(np.fromfile(os.path.join(folder, f"{name}-labels.u8"), dtype=np.uint8), k)
        return x, y

    x, y = part("train")
    xv, yv = part("validation")
    keras.utils.set_random_seed(meta["seed"])
    pad = meta["padding"]
    layers = [keras.Input(shape=(s, s, 3))]
    for f in (32, 64, 128, 128, 128):
        layers += [keras.layers.Conv2D(f, 3, activation="relu", padding=pad), keras.layers.MaxPooling2D(2)]
    layers += [keras.layers.Flatten(), keras.layers.Dense(512, activation="relu"), keras.layers.Dense(k, activation="softmax")]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=meta["learningRate"]), loss="categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, batch_size=meta["batchSize"], epochs=meta["epochs"], shuffle=True, validation_data=(xv, yv), verbose=0)
    print(json.dumps({key: [float(v) for v in h.history[key]] for key in ("loss", "accuracy", "val_loss", "val_accuracy")}))


if __name__ == "__main__":
    main(sys.argv[1])
