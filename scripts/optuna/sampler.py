"""fitspec's bridge to Optuna's samplers, through the ask-and-tell interface.

One JSON request per line on stdin, one JSON answer per line on stdout. A request carries the whole
history of the sweep, so the answer depends on nothing kept in this process: the study is rebuilt from
the history, its sampler seeded from (seed, trial number), and asked for one trial. Every machine
that decides (the sweep process, or a later run of it after a crash) gets the same point for the same
history; trials still running are in the history, so with the constant liar two idle workers are not
handed the same point.

Request: {"method": "tpe" | "cmaes", "seed": int, "number": int, "mode": "max" | "min",
          "space": [{"name", "type": "categorical" | "float" | "int", "choices": n, "low", "high",
                     "log", "step", "when": {name: [choice index, ...]}}],
          "trials": [{"params": {name: value}, "state": "complete" | "pruned" | "running" | "failed",
                      "value": float, "intermediate": {step: float}}],
          "startup": int (optional)}
Categorical values travel as indices into the sweep's `values` list.
Answer: {"params": {name: value}} or {"error": text}.
"""

import json
import sys
import warnings

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.filterwarnings("ignore")

STATES = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "running": TrialState.RUNNING, "failed": TrialState.FAIL}


def distribution(p):
    if p["type"] == "categorical":
        return CategoricalDistribution(list(range(p["choices"])))
    if p["type"] == "int":
        return IntDistribution(int(p["low"]), int(p["high"]), log=bool(p.get("log")), step=int(p.get("step") or 1))
    return FloatDistribution(float(p["low"]), float(p["high"]), log=bool(p.get("log")), step=p.get("step"))


def sampler_for(req):
    seed = (int(req.get("seed", 0)) * 1_000_003 + int(req["number"])) % (2**32)
    startup = int(req.get("startup", 10))
    if req["method"] == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True, group=True, constant_liar=True)


def applies(p, chosen):
    return all(chosen.get(k) in allowed for k, allowed in (p.get("when") or {}).items())


def answer(req):
    space = req["space"]
    dists = {p["name"]: distribution(p) for p in space}
    study = optuna.create_study(direction="maximize" if req["mode"] == "max" else "minimize", sampler=sampler_for(req))
    for t in req["trials"]:
        state = STATES[t["state"]]
        params = {k: v for k, v in t["params"].items() if k in dists}
        value = t.get("value") if state == TrialState.COMPLETE else None
        if state == TrialState.COMPLETE and value is None:
            state = TrialState.FAIL
        inter = {int(k): float(v) for k, v in (t.get("intermediate") or {}).items() if v is not None}
        study.add_trial(create_trial(state=state, value=value, params=params, distributions={k: dists[k] for k in params}, intermediate_values=inter))
    trial = study.ask()
    chosen = {}
    for p in space:
        if not applies(p, chosen):
            continue
        name = p["name"]
        if p["type"] == "categorical":
            chosen[name] = trial.suggest_categorical(name, list(range(p["choices"])))
        elif p["type"] == "int":
            chosen[name] = trial.suggest_int(name, int(p["low"]), int(p["high"]), log=bool(p.get("log")), step=int(p.get("step") or 1))
        else:
            chosen[name] = trial.suggest_float(name, float(p["low"]), float(p["high"]), log=bool(p.get("log")), step=p.get("step"))
    return {"params": chosen}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out = answer(json.loads(line))
        except Exception as e:  # the caller reports it with the sweep's context
            out = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
