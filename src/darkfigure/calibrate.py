"""Calibration studies: simulate -> fit -> compare, over scenarios x models x replicates.

Two questions, two kinds of replicate:

- **Scenario replicates** (frequentist coverage): worlds from `darkfigure.simulate` built to
  break the models' assumptions (heterogeneity, referral, avoidance, sparse strata, lists
  missing from strata, many lists). Each model's central 50/90/95% intervals for N are
  checked against the truth; bias, RMSE and interval width are kept, also for the multiplier
  N / official where the world has official counts. Every model sees the same worlds.
- **SBC replicates** (Talts et al. 2018, arXiv:1804.06788): the model's own prior, see
  `darkfigure.sbc`, which also says how the improper 1/N prior is truncated for SBC.

Tasks run on Dask distributed (Rocklin 2015, SciPy): an embedded LocalCluster of worker
*processes* by default, or a scheduler address. Each finished replicate is one small JSON file
under ``DIR/records/<scenario>/<model>/rep-NNNN.json``, written atomically by the client, so
an interrupted study resumes where it stopped (replicates whose file exists are skipped), and
workers need no shared file system. Tasks are submitted replicate by replicate, so an
interrupted study has about as many replicates in every cell. A worker process runs many
replicates of the same list structure, which lets `darkfigure.fit` reuse its compiled nutpie
models (the compile dominates the cost of a small fit).
"""

from __future__ import annotations

import json
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import io
from .errors import InputError
from .scenarios import Scenario

QUANTILES = (0.025, 0.05, 0.25, 0.5, 0.75, 0.95, 0.975)
LEVELS = {50: (0.25, 0.75), 90: (0.05, 0.95), 95: (0.025, 0.975)}
#: Fit settings per family; families not named here get DEFAULT_SETTINGS; ``--draws`` etc.
#: override. Measured on 2 shared cores: loglinear ~1 s per stratum of 3-5 lists after a
#: 20-90 s compile per worker and list structure, ~100 s for 10 lists (45 pairs, 1023 cells);
#: latent-class 2-3 s per stratum; bma under 1 s. One replicate of the 8 shipped scenarios
#: plus SBC costs ~250 s of one core, ~150 s without the 10-list log-linear fit. The
#: hierarchical model compiles once per worker and structure (~30-100 s), then 2-7 s a
#: replicate on the stratified scenarios.
FIT_SETTINGS = {"loglinear": {"draws": 500, "tune": 500, "chains": 2},
                "latent-class": {"draws": 300, "tune": 200, "chains": 2},
                "bma": {"draws": 1000, "tune": 0, "chains": 2}}
DEFAULT_SETTINGS = {"draws": 500, "tune": 500, "chains": 2}
SBC_LISTS = 3


@dataclass(frozen=True)
class Task:
    """One replicate: a scenario world (``scenario`` set) or an SBC draw (``scenario`` None)."""

    name: str
    model: str
    replicate: int
    sampler: dict = field(hash=False, compare=False)
    scenario: Scenario | None = None
    sbc_lists: int = SBC_LISTS

    @property
    def path(self) -> Path:
        return Path("records") / self.name / self.model / f"rep-{self.replicate:04d}.json"

    @property
    def seed(self) -> int:
        base = self.scenario.seed if self.scenario else 1804_06788 + self.sbc_lists
        return int(np.random.SeedSequence([base, self.replicate]).generate_state(1)[0])


def settings_for(model: str, override: dict | None = None) -> dict:
    """Sampler settings of a family for the study (see FIT_SETTINGS)."""
    chosen = dict(FIT_SETTINGS.get(model, DEFAULT_SETTINGS))
    chosen.update({k: v for k, v in (override or {}).items() if v is not None})
    return chosen


def applicable(model: str, n_lists: int, n_strata: int | None = None) -> str | None:
    """Why a family cannot fit tables with ``n_lists`` lists (and ``n_strata`` strata), or
    None. A pooling family is a joint model over strata: on one stratum there is nothing to
    pool, so it is calibrated on the stratified scenarios and by SBC."""
    from .models import get_family

    family = get_family(model)
    limits = getattr(family.module, "LIST_LIMITS", None)
    if limits and not limits[0] <= n_lists <= limits[1]:
        return f"{model} handles {limits[0]}-{limits[1]} lists"
    if family.pools_strata and n_strata == 1:
        return f"{model} pools strata; the world has one"
    return None


def plan(scenarios: list[Scenario], models: list[str], replicates: int,
         override: dict | None = None, sbc_replicates: int = 0,
         sbc_lists: int = SBC_LISTS) -> tuple[list[Task], list[str]]:
    """Every task, replicate-major; and notes on the (scenario, model) pairs left out."""
    from .sbc import PRIOR_DRAWS

    tasks, notes = [], []
    cells = [(s, m) for s in scenarios for m in models]
    for s, m in cells:
        why = applicable(m, s.n_lists, s.n_strata)
        if why:
            notes.append(f"{s.name} x {m}: not applicable ({why})")
    cells = [(s, m) for s, m in cells if not applicable(m, s.n_lists, s.n_strata)]
    sbc_models = [m for m in models if m in PRIOR_DRAWS and not applicable(m, sbc_lists)]
    notes += [f"SBC x {m}: no prior draw defined for this family" for m in models
              if m not in PRIOR_DRAWS]
    for r in range(max(replicates, sbc_replicates)):
        if r < replicates:
            tasks += [Task(s.name, m, r, settings_for(m, override), s) for s, m in cells]
        if r < sbc_replicates:
            tasks += [Task(f"sbc{sbc_lists}", m, r, settings_for(m, override),
                           sbc_lists=sbc_lists) for m in sbc_models]
    return tasks, notes


# -- one replicate (runs on a worker) -------------------------------------------------------
def run_task(task: Task) -> dict:
    """Run one replicate; never raises: failures come back as a record with status error."""
    head = {"scenario": task.name, "model": task.model, "replicate": task.replicate,
            "seed": task.seed, "settings": task.sampler}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            body = _run_sbc(task) if task.scenario is None else _run_scenario(task)
        body["warnings"] = sorted({str(w.message)[:200] for w in caught
                                   if not issubclass(w.category, DeprecationWarning)})[:5]
        status = "ok"
    except Exception as err:  # recorded, so one bad replicate does not end the study
        body, status = {"error": f"{type(err).__name__}: {err}",
                        "traceback": traceback.format_exc(limit=4)}, "error"
    return head | body | {"status": status, "seconds": round(time.perf_counter() - start, 2)}


def _card(task: Task, seed: int):
    from .runcard import SAMPLER_DEFAULTS, RunCard

    return RunCard(name=f"{task.name}-{task.replicate}", model=task.model, seed=seed,
                   table=Path(f"<simulated {task.name}>"),
                   sampler=dict(SAMPLER_DEFAULTS) | task.sampler)


def _describe(draws: np.ndarray) -> dict:
    draws = np.asarray(draws, dtype=float).ravel()
    return {"mean": float(draws.mean()),
            "q": {str(q): float(v) for q, v in zip(QUANTILES, np.quantile(draws, QUANTILES))}}


def _n_draws(tree) -> np.ndarray:
    return tree["posterior"]["N"].transpose("chain", "draw", "stratum").values


def _run_scenario(task: Task) -> dict:
    """Fit every stratum (each alone, or jointly for pooling families) and compare."""
    from .fit import FitInputs, fit
    from .models import get_family
    from .simulate import generate

    world = generate(task.scenario, task.replicate)
    table, labels = world.table, world.table.stratum_labels
    card = _card(task, task.seed)
    official = world.official.values if world.official is not None else [None] * len(labels)
    units, draws = [], []
    pooled = get_family(task.model).pools_strata
    if pooled:
        tree, diag = fit(card, FitInputs(table, world.official, world.coverage), progress=False)
        parts = [(_n_draws(tree), diag, None)]
    else:
        parts = []
        for i, label in enumerate(labels):
            sub = FitInputs(table.stratum(label), None if world.official is None
                            else world.official.sel(stratum=[label]),
                            world.coverage.sel(stratum=[label]))
            try:
                tree, diag = fit(_card(task, task.seed + i), sub, progress=False)
                parts.append((_n_draws(tree), diag, None))
            except (ValueError, InputError) as err:
                parts.append((None, None, str(err)[:200]))
    for i, label in enumerate(labels):
        n_draws, diag, failed = parts[0] if pooled else parts[i]
        unit = {"level": "stratum", "stratum": label, "N": int(world.n_true[i]),
                "observed": int(table.observed.values[i]),
                "official": None if official[i] is None else int(official[i])}
        if failed:
            units.append(unit | {"fitted": False, "reason": failed})
            continue
        column = n_draws[..., i] if pooled else n_draws[..., 0]
        draws.append(column)
        unit |= {"fitted": True, "estimable": label not in diag["unestimable_strata"],
                 "converged": bool(diag["converged"])} | _describe(column)
        units.append(unit)
    if len(labels) > 1 and len(draws) == len(labels):
        total = {"level": "total", "stratum": "ALL", "N": int(world.n_true.sum()),
                 "observed": int(table.observed.values.sum()),
                 "official": None if world.official is None else int(world.official.sum()),
                 "fitted": True, "estimable": all(u["estimable"] for u in units),
                 "converged": all(u["converged"] for u in units)}
        units.append(total | _describe(np.sum(draws, axis=0)))
    # one diagnostics per fit: a pooling family's single fit serves every stratum
    fitted = [diag for _, diag, _ in parts if diag]
    return {"kind": "scenario", "n_lists": table.n_lists, "units": units,
            "diagnostics": {"converged": all(d["converged"] for d in fitted) and bool(fitted),
                            "max_rhat": max((d["max_rhat"] for d in fitted), default=None),
                            "min_ess_bulk_N": min((d["min_ess_bulk_N"] for d in fitted),
                                                  default=None),
                            "divergences": sum(d["divergences"] for d in fitted)}}


def _run_sbc(task: Task) -> dict:
    from .fit import FitInputs, fit, make_priors
    from .models import get_family
    from .sbc import PRIOR_DRAWS, fractional_rank

    family = get_family(task.model)
    priors = make_priors(family, {})
    rng = np.random.default_rng(task.seed)
    drawn = PRIOR_DRAWS[task.model](family.module, priors, task.sbc_lists, rng)
    record = {"kind": "sbc", "n_lists": task.sbc_lists, "N": drawn.N, "params": drawn.params,
              "observed": int(drawn.table.observed.values[0])}
    if record["observed"] == 0:
        return record | {"u": None, "reason": "nobody observed: no fit"}
    if drawn.exact_u is not None:
        return record | {"u": drawn.exact_u(rng), "kept": 1.0, "converged": True}
    tree, diag = fit(_card(task, task.seed), FitInputs(drawn.table, drawn.official),
                     progress=False)
    u, kept = fractional_rank(tree["posterior"].to_dataset(), drawn.N, drawn.log_weight, rng)
    return record | {"u": None if np.isnan(u) else u, "kept": round(kept, 4),
                     "converged": bool(diag["converged"]),
                     "min_ess_bulk_N": diag["min_ess_bulk_N"],
                     "divergences": diag["divergences"]}


# -- orchestration (client side) ------------------------------------------------------------
def pending(tasks: list[Task], out: Path) -> list[Task]:
    """Tasks whose record file does not exist yet (the resume rule)."""
    return [t for t in tasks if not (out / t.path).is_file()]


def check_settings(out: Path, settings: dict) -> None:
    """A study directory keeps one set of fit settings: refuse to mix others into it."""
    path = out / "study.json"
    if path.is_file():
        before = json.loads(path.read_text("utf-8"))
        clash = {m: s for m, s in settings.items() if m in before and before[m] != s}
        if clash:
            raise InputError(f"the study was run with other fit settings for "
                             f"{', '.join(sorted(clash))} ({before}); use a new --out "
                             "directory", path=path)
        settings = before | settings
    io.write_json(path, settings)


def run_study(tasks: list[Task], out: Path, *, scheduler: str | None = None,
              workers: int = 2, processes: bool = True, report=print) -> dict:
    """Run the pending tasks on Dask; write each record as it arrives. Returns counts."""
    from dask.distributed import Client, LocalCluster

    todo = pending(tasks, out)
    counts = {"planned": len(tasks), "skipped_existing": len(tasks) - len(todo), "ok": 0,
              "error": 0}
    report(f"[calibrate] {len(tasks)} replicates planned, {counts['skipped_existing']} "
           f"already done, {len(todo)} to run")
    if not todo:
        return counts
    cluster = None if scheduler else LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=":0")
    try:
        _collect(Client(scheduler or cluster), todo, out, counts, report)
    finally:
        if cluster is not None:
            cluster.close()
    return counts


def _collect(client, todo: list[Task], out: Path, counts: dict, report) -> None:
    from dask.distributed import as_completed

    with client:
        # One task per replicate, in plan order; distributed hands them out in that order.
        futures = [client.submit(run_task, t, key=f"{t.name}-{t.model}-{t.replicate}",
                                 pure=False, priority=-i) for i, t in enumerate(todo)]
        by_key = {f.key: t for f, t in zip(futures, todo)}
        start = time.perf_counter()
        for done, future in enumerate(as_completed(futures), 1):
            task = by_key[future.key]
            try:
                record = future.result()
            except Exception as err:  # a lost worker (KilledWorker etc.): retried on resume
                record = {"status": "error", "seconds": 0.0,
                          "error": f"{type(err).__name__}: {err}"}
            path = out / task.path
            if record["status"] == "ok":
                io.write_json(path, record)
                path.with_suffix(".error.json").unlink(missing_ok=True)
            else:  # kept for inspection; a resumed study retries it
                io.write_json(path.with_suffix(".error.json"), record)
            counts[record["status"]] += 1
            rate = (time.perf_counter() - start) / done
            report(f"[calibrate] {done}/{len(todo)} {task.name} {task.model} rep "
                   f"{task.replicate}: {record['status']} ({record['seconds']} s; about "
                   f"{rate * (len(todo) - done) / 60:.0f} min left)")
            future.release()


def load_records(out: Path) -> list[dict]:
    """Every finished replicate record of a study directory."""
    return [json.loads(p.read_text("utf-8"))
            for p in sorted((out / "records").glob("*/*/rep-[0-9][0-9][0-9][0-9].json"))]
