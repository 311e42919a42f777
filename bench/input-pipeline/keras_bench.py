"""Keras side of the input-pipeline benchmark: ImageDataGenerator.flow_from_directory, as in the notebook.

Prints one JSON line: images/s for decode + resize (no augmentation) and decode + resize + the
notebook's augmentation, over whole epochs of the given folder; and `first`: images/s of the first
epoch counted from the construction of the generator, so that flow_from_directory's listing of the
folder is included, as it is in fitspec's first decode (its epoch rates leave the listing out).
With a fourth argument `first`, only that figure and the plain epochs (no augmentation).
"""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

ImageDataGenerator = tf.keras.preprocessing.image.ImageDataGenerator


def run(directory, size, epochs, augment):
    kwargs = dict(rescale=1.0 / 255)
    if augment:
        kwargs.update(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
                      zoom_range=0.2, horizontal_flip=True, fill_mode="nearest")
    listing = time.perf_counter()
    gen = ImageDataGenerator(**kwargs).flow_from_directory(
        directory, target_size=(size, size), batch_size=32, color_mode="rgb", class_mode="categorical",
        shuffle=True, seed=1)
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


def main():
    directory, size, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    only_first = len(sys.argv) > 4 and sys.argv[4] == "first"
    plain, first = run(directory, size, epochs, False)
    out = {"plain": plain, "first": first}
    if not only_first:
        out["augment"] = run(directory, size, epochs, True)[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
