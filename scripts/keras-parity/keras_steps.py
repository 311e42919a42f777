"""Keras' side of the step-parity harness (test/train/keras-parity/): N training steps of a network
that fitspec describes, from fitspec's initial weights, on fitspec's batches.

    python keras_steps.py CASE_DIR...

One process for many cases: importing TensorFlow costs more than a case's steps.
CASE_DIR/case.json (written by test/train/keras-parity/harness.ts) holds the Keras layers (class
name + constructor arguments), the loss, class weights, and per phase the optimizer (Keras class +
arguments), the trainable flag of every layer and the steps (batch indices into the data set and
the learning rate of each). Tensors are float32 slices of CASE_DIR/data.bin ([offset, shape], in
elements). The answer, CASE_DIR/keras.json + keras.bin, has for every step the batch's training loss
(as `train_on_batch` reports it), its inference-mode loss after the step (`test_on_batch`), every
layer's weights and every optimizer slot.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

# The optimizer slots as Keras 3 keeps them, under fitspec's slot names (the tfjs suffixes).
SLOTS = {
    "SGD": {"momentum": "momentums"},
    "RMSprop": {"rms": "_velocities", "momentum": "_momentums", "mg": "_average_gradients"},
    "Adam": {"m": "_momentums", "v": "_velocities"},
    "Adamax": {"m": "_m", "v": "_u"},
    "Adagrad": {"accumulator": "_accumulators"},
    "Adadelta": {"accum_grad": "_accumulated_grads", "accum_var": "_accumulated_delta_vars"},
}


class MaskedDropout(keras.layers.Layer):
    """Dropout whose mask at each training step is the one fitspec's engine drew for that step.

    `stateless`: the graph engine's StatelessRandomUniform(shape, [mask_seed, step]) >= rate; else the
    masks fitspec wrote (the eager engine's, from tfjs' generator), one per step, fed through `mask`.
    """

    def __init__(self, rate, mask_seed, stateless, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.mask_seed = mask_seed
        self.stateless = stateless
        self.step = tf.Variable(0, dtype=tf.int32, trainable=False)
        self.mask = tf.Variable(np.zeros((0,), np.float32), shape=tf.TensorShape(None), trainable=False)

    def call(self, x, training=False):
        if not training:
            return x
        if self.stateless:
            u = tf.raw_ops.StatelessRandomUniform(shape=tf.shape(x), seed=tf.stack([tf.constant(self.mask_seed, tf.int32), self.step]), dtype=tf.float32)
            keep = tf.cast(u >= self.rate, tf.float32)
            return x * keep * (1.0 / (1.0 - self.rate))
        return x * tf.reshape(self.mask, tf.shape(x))


def build_layer(spec, dropout):
    cls, args = spec["className"], dict(spec["config"])
    for k, v in list(args.items()):
        if isinstance(v, dict) and "class_name" in v:
            args[k] = keras.regularizers.deserialize(v)
    if cls == "Dropout" and spec["config"]["name"] in dropout:
        d = dropout[spec["config"]["name"]]
        return MaskedDropout(args["rate"], d["maskSeed"], d["mode"] == "stateless", name=args["name"])
    return getattr(keras.layers, cls)(**args)


def main(folder):
    case = json.load(open(os.path.join(folder, "case.json")))
    data = np.fromfile(os.path.join(folder, "data.bin"), dtype=np.float32)
    take = lambda ref: data[ref[0] : ref[0] + int(np.prod(ref[1], dtype=np.int64))].reshape(ref[1])
    x_all, y_all = take(case["x"]), take(case["y"])
    dropout = case.get("dropout", {})
    tf.keras.utils.set_random_seed(0)

    layers = [build_layer(s, dropout) for s in case["layers"]]
    if case.get("graph"):
        # Residual and parallel blocks: the same layers wired as fitspec wired them (-1: the input).
        inp = keras.Input(shape=case["inputShape"])
        outs = []
        for layer, ins in zip(layers, case["graph"]["inbound"]):
            xs = [inp if j < 0 else outs[j] for j in ins]
            outs.append(layer(xs[0] if len(xs) == 1 else xs))
        model = keras.Model(inp, outs[case["graph"]["output"]])
    else:
        model = keras.Sequential([keras.Input(shape=case["inputShape"]), *layers])
    for layer, ws in zip(layers, case["weights"]):
        if ws:
            layer.set_weights([take(r) for r in ws])
    class_weight = {i: w for i, w in enumerate(case["classWeight"])} if case.get("classWeight") else None

    out, chunks, offset = {"steps": []}, [], 0

    def put(a):
        nonlocal offset
        a = np.asarray(a, np.float32)
        chunks.append(a.ravel())
        ref = [offset, list(a.shape)]
        offset += a.size
        return ref

    global_step = 0
    for phase in case["phases"]:
        for layer, trainable in zip(layers, phase["trainable"]):
            layer.trainable = trainable
        # JSON writes 1.0 as 1; Keras wants floats for rates and momenta.
        opt_args = {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in phase["optimizer"]["config"].items()}
        opt = getattr(keras.optimizers, phase["optimizer"]["className"])(**opt_args)
        # Eagerly: a few steps per case cost less than tracing them (twice: the last batch is short),
        # and XLA's fusions would round differently from the kernels fitspec runs.
        model.compile(optimizer=opt, loss=case["loss"], metrics=["accuracy"], run_eagerly=True, jit_compile=False)
        for s in phase["steps"]:
            idx = np.asarray(s["batch"], np.int64)
            x, y = x_all[idx], y_all[idx]
            for layer in layers:
                if isinstance(layer, MaskedDropout):
                    layer.step.assign(s["step"])
                    if not layer.stateless:
                        layer.mask.assign(take(s["masks"][layer.name]))
            opt.learning_rate.assign(s["lr"])
            logs = model.train_on_batch(x, y, class_weight=class_weight, return_dict=True)
            evals = model.test_on_batch(x, y, return_dict=True)
            rec = {
                "loss": float(logs["loss"]),
                "accuracy": float(logs["accuracy"]),
                "evalLoss": float(evals["loss"]),
                "weights": [[put(w) for w in layer.get_weights()] for layer in layers],
                "slots": {},
            }
            # Slots in the order of the layers (fitspec's order of trainable weights); a functional
            # model may list its variables in another topological order than the layer list.
            at = {v.path: i for i, v in enumerate(opt._trainable_variables)}
            order = [at[v.path] for layer in layers for v in layer.trainable_weights]
            for suffix, attr in SLOTS[phase["optimizer"]["className"]].items():
                vs = getattr(opt, attr, None)
                if vs:
                    rec["slots"][suffix] = [put(vs[i].numpy()) for i in order]
            rec["trainable"] = [opt._trainable_variables[i].path for i in order]
            out["steps"].append(rec)
            global_step += 1
    np.concatenate(chunks or [np.zeros(0, np.float32)]).astype(np.float32).tofile(os.path.join(folder, "keras.bin"))
    json.dump(out, open(os.path.join(folder, "keras.json"), "w"))


if __name__ == "__main__":
    import traceback

    for folder in sys.argv[1:]:
        keras.backend.clear_session()
        try:
            main(folder)
        except Exception:  # one case's failure is that case's answer, not the others'
            open(os.path.join(folder, "error.txt"), "w").write(traceback.format_exc())
