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
    if meta.get("initial"):
        flat = np.fromfile(os.path.join(folder, "initial.f32"), dtype=np.float32)
        weights, at = [], 0
        for shape in meta["initial"]:
            n = int(np.prod(shape))
            weights.append(flat[at:at + n].reshape(shape))
            at += n
        model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=meta["learningRate"]), loss="categorical_crossentropy", metrics=["accuracy"])
    if meta.get("order"):
        history = {key: [] for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
        order = meta["order"]
        if order in ("reshuffled", "fixed"):
            rng, n, b = np.random.default_rng(meta["seed"]), len(x), meta["batchSize"]
            perms = [rng.permutation(n) for _ in range(meta["epochs"])]
            if order == "fixed":
                perms = perms[:1] * meta["epochs"]
            order = [[p[i:i + b].tolist() for i in range(0, n, b)] for p in perms]
        for batches in order:
            seen, sums = 0, np.zeros(2)
            for idx in batches:
                logs = model.train_on_batch(x[idx], y[idx], return_dict=True)
                sums += len(idx) * np.array([logs["loss"], logs["accuracy"]])
                seen += len(idx)
            val = model.evaluate(xv, yv, batch_size=meta["batchSize"], verbose=0, return_dict=True)
            for key, v in zip(history, [*(sums / seen), val["loss"], val["accuracy"]]):
                history[key].append(float(v))
        print(json.dumps(history))
        return
    if meta.get("kerasShuffle") == "arrays":
        # Under keras.utils.set_random_seed, Keras 3 (TensorFlow backend) draws this shuffle once:
        # every epoch then trains on the same batches in the same order.
        h = model.fit(x, y, batch_size=meta["batchSize"], epochs=meta["epochs"], shuffle=True, validation_data=(xv, yv), verbose=0)
    else:
        # A new order every epoch, as `shuffle=True` documents and as fitspec does.
        import tensorflow as tf

        train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=meta["seed"], reshuffle_each_iteration=True).batch(meta["batchSize"])
        h = model.fit(train, epochs=meta["epochs"], validation_data=(xv, yv), validation_batch_size=meta["batchSize"], verbose=0)
    print(json.dumps({key: [float(v) for v in h.history[key]] for key in ("loss", "accuracy", "val_loss", "val_accuracy")}))


if __name__ == "__main__":
    main(sys.argv[1])
