"""The notebook's models in Keras 3 on TensorFlow, trained with train_on_batch on the
same uint8 images the fitspec worker reads, for at least <min_steps> timed steps and at least <seconds>
seconds of them; prints one JSON line.
Usage: python keras_worker.py <size> <warmup_steps> <min_steps> <seconds> <data_dir> [baseline|bn-dropout|vgg16-head|resnet]"""
import json
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.python.util._pywrap_util_port import IsMklEnabled  # noqa: E402

BATCH, CLASSES, IMAGES = 32, 3, 128


def machine_ticks():
    """Busy and total jiffies of the whole machine (/proc/stat), as the fitspec worker reads them."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v) - v[3] - v[4], sum(v)
    except OSError:
        return None


size, warmup, min_steps, min_seconds, data_dir = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
model_name = sys.argv[6] if len(sys.argv) > 6 else "baseline"
padding = "valid" if size >= 128 else "same"  # same rule as common.ts

images = np.fromfile(os.path.join(data_dir, f"images-{size}x{size}x3.u8"), dtype=np.uint8)
images = images.reshape(IMAGES, size, size, 3).astype(np.float32) / 255.0
labels = np.fromfile(os.path.join(data_dir, f"labels-{IMAGES}.u8"), dtype=np.uint8)
onehot = keras.utils.to_categorical(labels, CLASSES).astype(np.float32)
batches = [(images[b * BATCH:(b + 1) * BATCH], onehot[b * BATCH:(b + 1) * BATCH]) for b in range(IMAGES // BATCH)]


def resnet06(size):
    """experiments/06-resnet.yaml: a strided stem, three stages of two basic residual blocks (32, 64,
    128 filters; the first block of stages 2 and 3 strided, with a 1x1 projection shortcut), global
    average pooling, Dropout 0.3, softmax; the layer arguments of its YAML."""
    L = keras.layers

    def conv(x, filters, kernel, strides=1, padding="same"):
        return L.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, kernel_initializer="he_normal")(x)

    def block(x, filters, strides=1):
        shortcut = x if strides == 1 else L.BatchNormalization()(conv(x, filters, 1, strides, "valid"))
        y = L.Activation("relu")(L.BatchNormalization()(conv(x, filters, 3, strides)))
        y = L.BatchNormalization()(conv(y, filters, 3))
        return L.Activation("relu")(L.Add()([shortcut, y]))

    inputs = keras.Input((size, size, 3))
    x = L.MaxPooling2D(2)(L.Activation("relu")(L.BatchNormalization()(conv(inputs, 32, 3, 2))))
    for filters, strides in ((32, 1), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1)):
        x = block(x, filters, strides)
    x = L.Dropout(0.3)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, L.Dense(CLASSES, activation="softmax")(x))


keras.utils.set_random_seed(42)
layers = [keras.Input((size, size, 3))]
if model_name == "vgg16-head":
    # The notebook's step 4: VGG16 convolutional base, frozen, under Flatten, Dense 256, softmax.
    base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(size, size, 3))
    base.trainable = False
    layers += [base, keras.layers.Flatten(), keras.layers.Dense(256, activation="relu"), keras.layers.Dense(CLASSES, activation="softmax")]
elif model_name != "resnet":
    bn = model_name == "bn-dropout"  # the notebook's step 2: BatchNormalization(axis=1) and Dropout 0.3
    for filters in (32, 64, 128, 128, 128):
        layers += [keras.layers.Conv2D(filters, (3, 3), activation="relu", padding=padding)]
        layers += [keras.layers.BatchNormalization(axis=1)] if bn else []
        layers += [keras.layers.MaxPooling2D((2, 2))]
    layers += [keras.layers.Flatten()] + ([keras.layers.Dropout(0.3)] if bn else [])
    layers += [keras.layers.Dense(512, activation="relu")] + ([keras.layers.BatchNormalization(axis=1), keras.layers.Dropout(0.3)] if bn else [])
    layers += [keras.layers.Dense(CLASSES, activation="softmax")]
model = resnet06(size) if model_name == "resnet" else keras.Sequential(layers)
# The optimizer each experiment file declares.
optimizer = keras.optimizers.Adam(learning_rate=1e-3) if model_name == "resnet" else keras.optimizers.RMSprop(learning_rate=1e-4)
model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])

loss = float("nan")
first = 0.0


def train_step(s):
    x, y = batches[s % len(batches)]
    out = model.train_on_batch(x, y)
    return float(out[0] if isinstance(out, (list, tuple)) else out)


for s in range(warmup):
    started = time.perf_counter()
    loss = train_step(s)
    if s == 0:
        first = time.perf_counter() - started
steps = 0
others = {}
if os.environ.get("FITSPEC_BENCH_SERVE") == "1":
    # Paired mode (the runner's --paired-seconds): one timed step per `step` line on stdin, in turn
    # with the other side's worker, so both sides see the same minutes of the machine.
    seconds = cpu_seconds = 0.0
    print("ready", "oneDNN" if IsMklEnabled() else "Eigen", flush=True)
    for line in sys.stdin:
        if line.strip() != "step":
            break
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        loss = train_step(warmup + steps)
        elapsed = time.perf_counter() - started
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        seconds += elapsed
        cpu_seconds += cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
        steps += 1
        print(json.dumps({"ms": elapsed * 1000}), flush=True)
    cores_used = cpu_seconds / seconds if seconds else 0.0
else:
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    machine0 = machine_ticks()
    while steps < min_steps or time.perf_counter() - t0 < min_seconds:
        started = time.perf_counter()
        loss = train_step(warmup + steps)
        if warmup == 0 and steps == 0:
            first = time.perf_counter() - started
        steps += 1
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cores_used = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / seconds
    machine1 = machine_ticks()
    if machine0 and machine1 and machine1[1] > machine0[1]:
        busy = (machine1[0] - machine0[0]) / (machine1[1] - machine0[1]) * os.cpu_count()
        others = {"otherCores": max(0.0, busy - cores_used)}
print(json.dumps({
    "framework": "keras", "backend": "tensorflow", "model": model_name, "size": size, "batch": BATCH, "warmupSteps": warmup, "steps": steps,
    "seconds": seconds, "imagesPerSec": steps * BATCH / seconds, "firstStepSeconds": first, "coresUsed": cores_used, **others,
    "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "kernels": "oneDNN" if IsMklEnabled() else "Eigen",
    "threads": {"intraOp": tf.config.threading.get_intra_op_parallelism_threads(), "interOp": tf.config.threading.get_inter_op_parallelism_threads()},
    "versions": {"keras": keras.__version__, "tensorflow": tf.__version__, "python": sys.version.split()[0]},
    "finalLoss": loss,
}))
