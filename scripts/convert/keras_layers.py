"""For each row of layer-rows.json: Keras' parameter count, output shape and layer name, and for
layers without weights the output on a fixed input (x[i] = sin(i) * 4 + 2, channels last)."""
import json
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import numpy as np  # noqa: E402
import keras  # noqa: E402

rows = json.load(open(sys.argv[1]))
out = []
for row in rows:
    cls, kwargs = row['keras']
    layer = getattr(keras.layers, cls)(**kwargs)
    model = keras.Sequential([keras.Input(tuple(row['input'])), layer])
    entry = {'params': int(model.count_params()), 'output': [None, *model.output_shape[1:]], 'name': layer.name}
    if entry['params'] == 0:
        n = int(np.prod(row['input']))
        x = (np.sin(np.arange(2 * n, dtype='float64')) * 4 + 2).astype('float32').reshape(2, *row['input'])
        entry['y'] = np.asarray(model(x, training=False)).ravel().tolist()
    out.append(entry)
print(json.dumps(out))
