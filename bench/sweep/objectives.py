"""Synthetic objectives with simulated learning curves, the Python twin of objectives.ts (the bench
checks that both give the same values). loss(x, epoch) falls towards f(x), reached at max_epochs, at a
speed that depends on x, so curves cross and early epochs rank trials imperfectly, as real ones do."""

import math

HARTMANN_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
HARTMANN_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991], [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]


def branin(x):
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi**2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * math.cos(x[0]) + s


def hartmann6(x):
    return -sum(HARTMANN_ALPHA[i] * math.exp(-sum(HARTMANN_A[i][j] * (x[j] - 1e-4 * HARTMANN_P[i][j]) ** 2 for j in range(6))) for i in range(4))


def rosenbrock4(x):
    return math.log1p(sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3)))


FUNCTIONS = {
    "branin": {"f": branin, "bounds": [[-5, 10], [0, 15]], "min": 0.397887, "scale": 10.0},
    "hartmann6": {"f": hartmann6, "bounds": [[0, 1]] * 6, "min": -3.32237, "scale": 1.0},
    "rosenbrock4": {"f": rosenbrock4, "bounds": [[-2, 2]] * 4, "min": 0.0, "scale": 2.0},
}


def loss(name, x, epoch, max_epochs):
    spec = FUNCTIONS[name]
    speed = 0.5 + 0.5 * math.sin(7 * sum(x))
    return spec["f"](x) + spec["scale"] * speed * (1 / math.sqrt(epoch) - 1 / math.sqrt(max_epochs))
