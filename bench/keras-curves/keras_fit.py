"""Keras' side of `npm run bench:keras-curves`: the notebook's baseline CNN trained by Keras 3 with
model.fit on the images and split fitspec trained on (uint8 pixels written by run.ts).

    python keras_fit.py DIR   (DIR/meta.json, DIR/{train,validation}.u8, DIR/{train,validation}-labels.u8)

With `layers` in meta.json (run.ts --experiment): the Sequential of those Keras layers (class names
and constructor arguments), fitspec's weights for the layers `layerWeights` names (a pretrained base),
fitspec's `phases` (per phase: epochs, optimizer, which layers train), and `augment` (fitspec's
augmentation, Keras ImageDataGenerator's parameters) as Keras 3 preprocessing layers mapped over the
training set.

Prints one JSON line: {"val_loss": [...], "val_accuracy": [...], "loss": [...], "accuracy": [...]}.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import keras  # noqa: E402


def augmentation(aug, seed):
    """fitspec's (ImageDataGenerator's) augmentation as Keras 3 preprocessing layers, and a line saying which.

    ImageDataGenerator's shear_range is an angle in degrees (0.2 degrees moves a pixel at most 0.35% of
    the image across); RandomShear takes only positive fractions, so shear is left out."""
    fill = aug.get("fill", "nearest")
    layers, said = [], []
    if aug.get("rotation"):
        layers.append(keras.layers.RandomRotation(aug["rotation"] / 360, fill_mode=fill, seed=seed))
        said.append(f"RandomRotation({aug['rotation']}/360)")
    if aug.get("widthShift") or aug.get("heightShift"):
        h, w = aug.get("heightShift", 0), aug.get("widthShift", 0)
        layers.append(keras.layers.RandomTranslation(h, w, fill_mode=fill, seed=seed + 1))
        said.append(f"RandomTranslation({h}, {w})")
    if aug.get("zoom"):
        # ImageDataGenerator draws the two axes' zoom independently.
        z = aug["zoom"]
        layers.append(keras.layers.RandomZoom((-z, z), (-z, z), fill_mode=fill, seed=seed + 2))
        said.append(f"RandomZoom(({-z}, {z}), ({-z}, {z}))")
    if aug.get("horizontalFlip"):
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed + 3))
        said.append("RandomFlip('horizontal')")
    if aug.get("shear"):
        said.append(f"shear {aug['shear']} degrees left out")
    return keras.Sequential(layers), f"fill_mode={fill}: " + ", ".join(said)


def experiment(meta, x, y, xv, yv):
    import tensorflow as tf

    s = meta["size"]
    keras.utils.set_random_seed(meta["seed"])
    layers = [getattr(keras.layers, spec["className"])(**spec["config"]) for spec in meta["layers"]]
    model = keras.Sequential([keras.Input(shape=(s, s, 3)), *layers])
    set_layer_weights(layers, meta)
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=meta["seed"], reshuffle_each_iteration=True).batch(meta["batchSize"])
    said = None
    if meta.get("augment"):
        aug, said = augmentation(meta["augment"], meta["seed"])
        train = train.map(lambda a, b: (aug(a, training=True), b), num_parallel_calls=tf.data.AUTOTUNE)
    train = train.prefetch(tf.data.AUTOTUNE)
    out = {key: [] for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    done = 0
    # fitspec's phases: which layers train, and a new optimizer, compiled afresh as a Keras user
    # fine-tuning does (a layer that is not trainable, BatchNormalization included, runs in inference mode).
    for phase in meta["phases"]:
        for layer, trainable in zip(layers, phase["trainable"]):
            layer.trainable = trainable
        opt = phase["optimizer"]
        model.compile(optimizer=getattr(keras.optimizers, opt["className"])(**opt["config"]), loss="categorical_crossentropy", metrics=["accuracy"])
        h = model.fit(train, initial_epoch=done, epochs=done + phase["epochs"], validation_data=(xv, yv), validation_batch_size=meta["batchSize"], verbose=0)
        for key in out:
            out[key] += [float(v) for v in h.history[key]]
        done += phase["epochs"]
    if said:
        out["augmentation"] = said
    # Kept beside the pixels too, so that a long run's Keras side can be read without its caller.
    json.dump(out, open(os.path.join(meta["folder"], "keras-history.json"), "w"))
    print(json.dumps(out))


def set_layer_weights(layers, meta):
    """fitspec's weights (initial.f32) for the layers meta["layerWeights"] names, in Keras' per-layer order."""
    if not meta.get("layerWeights"):
        return
    flat = np.fromfile(os.path.join(meta["folder"], "initial.f32"), dtype=np.float32)
    at = 0
    for given in meta["layerWeights"]:
        weights = []
        for shape in given["shapes"]:
            n = int(np.prod(shape))
            weights.append(flat[at:at + n].reshape(shape))
            at += n
        layers[given["index"]].set_weights(weights)
    assert at == flat.size, f"initial.f32 has {flat.size} values, the layers take {at}"


def main(folder):
    meta = json.load(open(os.path.join(folder, "meta.json")))
    s, k = meta["size"], meta["classes"]

    def part(name):
        x = np.fromfile(os.path.join(folder, f"{name}.u8"), dtype=np.uint8).reshape(-1, s, s, 3).astype(np.float32) * np.float32(meta["rescale"])
        y = keras.utils.to_categorical(np.fromfile(os.path.join(folder, f"{name}-labels.u8"), dtype=np.uint8), k)
        return x, y

    x, y = part("train")
    xv, yv = part("validation")
    meta["folder"] = folder
    if meta.get("layers"):
        return experiment(meta, x, y, xv, yv)
    keras.utils.set_random_seed(meta["seed"])
    pad = meta["padding"]
    layers = []
    for f in (32, 64, 128, 128, 128):
        layers += [keras.layers.Conv2D(f, 3, activation="relu", padding=pad), keras.layers.MaxPooling2D(2)]
    layers += [keras.layers.Flatten(), keras.layers.Dense(512, activation="relu"), keras.layers.Dense(k, activation="softmax")]
    model = keras.Sequential([keras.Input(shape=(s, s, 3)), *layers])
    set_layer_weights(layers, meta)
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
