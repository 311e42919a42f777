"""Keras side of the input-pipeline benchmark: ImageDataGenerator.flow_from_directory, as in the notebook.

Prints one JSON line: images/s for decode + resize (no augmentation) and decode + resize + the
notebook's augmentation, over whole epochs of the given folder; and `first`: images/s of the first
epoch counted from the construction of the generator, so that flow_from_directory's listing of the
folder is included, as it is in fitspec's first decode (its epoch rates leave the listing out).
With a fourth argument `first`, only that figure and the plain epochs (no augmentation).
With `train <warmup> <steps>` instead: `model.fit` of the notebook's baseline CNN on the augmenting
generator, as the notebook trains step 3, and the ms per step of the timed steps (data wait included).
"""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

ImageDataGenerator = tf.keras.preprocessing.image.ImageDataGenerator


# The notebook's augmentation (steps 3 to 5).
AUGMENT = dict(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2, zoom_range=0.2,
               horizontal_flip=True, fill_mode="nearest")


def flow(directory, size, augment):
    return ImageDataGenerator(rescale=1.0 / 255, **(AUGMENT if augment else {})).flow_from_directory(
        directory, target_size=(size, size), batch_size=32, color_mode="rgb", class_mode="categorical",
        shuffle=True, seed=1)


def run(directory, size, epochs, augment):
    listing = time.perf_counter()
    gen = flow(directory, size, augment)
    rates = []
    first = 0.0
    for e in range(epochs):
        start = time.perf_counter()
        n = 0
        for i in range(len(gen)):
            x, _ = gen[i]
            n += len(x)
        gen.on_epoch_end()
        end = time.perf_counter()
        rates.append(n / (end - start))
        if e == 0:
            first = n / (end - listing)
    return rates, first


def baseline_cnn(size):
    """The notebook's baseline CNN; smaller sizes get fewer blocks, the rule of train-loop.ts' baselineCnn."""
    keras = tf.keras
    layers = [keras.Input((size, size, 3)), keras.layers.Conv2D(32, (3, 3), activation="relu"), keras.layers.MaxPooling2D((2, 2))]
    side = (size - 2) // 2
    for filters in (64, 128, 128, 128):
        if side < 4:
            break
        layers += [keras.layers.Conv2D(filters, (3, 3), activation="relu"), keras.layers.MaxPooling2D((2, 2))]
        side = (side - 2) // 2
    layers += [keras.layers.Flatten(), keras.layers.Dense(512, activation="relu"), keras.layers.Dense(3, activation="softmax")]
    model = keras.Sequential(layers)
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop(learning_rate=1e-4), metrics=["accuracy"])
    return model


def train(directory, size, warmup, steps):
    """ms per step of model.fit on the augmenting generator, counted between the ends of batches after the warm-up."""
    ends = []

    class Clock(tf.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.perf_counter())

    gen = flow(directory, size, True)
    if len(gen) < warmup + steps:
        raise SystemExit(f"{len(gen)} batches in the folder, {warmup + steps} needed")
    baseline_cnn(size).fit(gen, steps_per_epoch=warmup + steps, epochs=1, verbose=0, callbacks=[Clock()])
    return 1000 * (ends[-1] - ends[warmup - 1]) / steps


def main():
    if sys.argv[1] == "train":
        directory, size, warmup, steps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        print(json.dumps({"msPerStep": train(directory, size, warmup, steps)}))
        return
    directory, size, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    only_first = len(sys.argv) > 4 and sys.argv[4] == "first"
    plain, first = run(directory, size, epochs, False)
    out = {"plain": plain, "first": first}
    if not only_first:
        out["augment"] = run(directory, size, epochs, True)[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
