"""Keras side of the input-pipeline benchmark: ImageDataGenerator.flow_from_directory, as in the notebook.

Prints one JSON line: images/s for decode + resize (no augmentation) and decode + resize + the
notebook's augmentation, over whole epochs of the given folder.
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
    gen = ImageDataGenerator(**kwargs).flow_from_directory(
        directory, target_size=(size, size), batch_size=32, color_mode="rgb", class_mode="categorical",
        shuffle=True, seed=1)
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        n = 0
        for i in range(len(gen)):
            x, _ = gen[i]
            n += len(x)
        gen.on_epoch_end()
        rates.append(n / (time.perf_counter() - start))
    return rates


def main():
    directory, size, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    out = {"plain": run(directory, size, epochs, False), "augment": run(directory, size, epochs, True)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
