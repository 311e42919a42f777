"""Optuna alone on the synthetic objectives: TPESampler (its defaults) with SuccessiveHalvingPruner or
HyperbandPruner, the same trial count, epochs and seeds as fitspec's scheduler. One JSON request on
stdin, one JSON answer on stdout.

Request: {"function", "seeds": [...], "count", "max_epochs", "eta", "pruner": "sha" | "hyperband",
          "check": [[x...], ...] (points whose losses at every epoch are returned, to compare with TS)}
Answer:  {"runs": [{"seed", "regret", "epochs"}], "check": [[loss at epoch 1..max], ...]}
"""

import json
import sys
import warnings

import optuna

from objectives import FUNCTIONS, loss

optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.filterwarnings("ignore")


def run(req, seed):
    name, max_e, eta = req["function"], req["max_epochs"], req["eta"]
    spec = FUNCTIONS[name]
    if req["pruner"] == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_e, reduction_factor=eta)
    else:
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=eta)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)
    spent = 0
    finals = []

    def objective(trial):
        nonlocal spent
        x = [trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(spec["bounds"])]
        for e in range(1, max_e + 1):
            spent += 1
            v = loss(name, x, e, max_e)
            trial.report(v, e)
            if e < max_e and trial.should_prune():
                raise optuna.TrialPruned()
        finals.append(spec["f"](x))
        return v

    study.optimize(objective, n_trials=req["count"])
    return {"seed": seed, "regret": (min(finals) - spec["min"]) if finals else None, "epochs": spent}


def main():
    req = json.load(sys.stdin)
    out = {"runs": [run(req, s) for s in req["seeds"]]}
    out["check"] = [[loss(req["function"], x, e, req["max_epochs"]) for e in range(1, req["max_epochs"] + 1)] for x in req.get("check", [])]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
