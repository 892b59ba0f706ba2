"""Calibrate ``fipo eval`` against lm-evaluation-harness, the field's reference scorer.

For every testing model and benchmark, the same items (``--limit`` drawn with ``--seed``, exactly as
``fipo eval`` draws them) are scored twice on the same loaded weights:

- by our harness (:func:`fipo_integrations.evaluation.run_evaluation`, the naive instruction);
- by lm-evaluation-harness (``lm_eval.simple_evaluate`` with its ``HFLM`` model wrapper), through task configs
  generated for the local files: the naive instruction as the task ``description``, the same few-shot
  examples, ``multiple_choice`` scored by the log-likelihood of each option letter for PiQA, CosmosQA and
  MMLU, and ``generate_until`` for GSM8K and BBH. Generation goes through the chat template with the few-shot
  examples as turns (``apply_chat_template``, ``fewshot_as_multiturn``) for chat models, as ``fipo eval``
  does by default; lm-eval's raw replies are scored with the same answer extraction as ours, so the
  comparison is of prompts, log-likelihoods and generation.

It prints, per benchmark and model: both accuracies, their difference, the per-item agreement (same
predicted letter for multiple choice, same extracted answer for generation) and the share of items whose
prompt text is identical in both. Everything is cached under ``--out``; a rerun resumes.

    python benchmarks/eval_calibration.py --data-dir ../shared/data --limit 60 \\
        --model embedded:smollm2-135m-instruct --model embedded:qwen2.5-coder-0.5b-instruct
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

BENCHMARKS = ("gsm8k", "bbh", "piqa", "cosmosqa", "mmlu")


def _our_results(args: argparse.Namespace, spec: str, out: Path) -> tuple[dict[str, dict[str, Any]], Any]:
    from fipo_integrations.evaluation import EvalConfig, run_evaluation
    from fipo_integrations.evaluation.testing_models import make_testing_model

    model = make_testing_model(spec, batch_size=args.batch_size, dtype=args.dtype)
    config = EvalConfig(
        out_dir=out / "ours",
        data_dir=args.data_dir,
        benchmarks=args.benchmark,
        models=[spec],
        optimizers=["none"],
        limit=args.limit,
        seed=args.seed,
        batch_size=args.batch_size,
        dtype=args.dtype,
        option_orders=args.option_orders,
    )
    for name in args.benchmark:  # one run per benchmark, so GSM8K and BBH can use their own limit
        run_evaluation(replace(config, benchmarks=[name], limit=_limit(args, name)), testing_models=[model])
    records: dict[str, dict[str, Any]] = {}
    with (out / "ours" / "results.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record.get("model_key") == model.key:
                records[record["item_id"]] = record
    return records, model


def _limit(args: argparse.Namespace, benchmark: str) -> int:
    if benchmark in ("gsm8k", "bbh") and args.limit_generate is not None:
        return min(args.limit, args.limit_generate)
    return int(args.limit)


def _task_config(benchmark: str, task: Any, items: list[Any], folder: Path, chat: bool) -> dict[str, Any]:
    """An lm-eval task config for the selected ``items`` of one task, with the task's few-shot examples."""
    from fipo_integrations.evaluation.data import BENCHMARK_SPECS

    spec = BENCHMARK_SPECS[benchmark]
    folder.mkdir(parents=True, exist_ok=True)
    name = f"fipo_{benchmark}_{task.task}".replace("-", "_")

    def row(item: Any) -> dict[str, Any]:
        data = {"id": item.item_id, "query": item.query, "answer": item.answer, "target": item.target}
        if item.choices:
            data["choices"] = list(item.choices)
            data["label"] = list(item.choices).index(item.target)
        return data

    test_path, shots_path = folder / f"{name}.test.jsonl", folder / f"{name}.shots.jsonl"
    test_path.write_text("".join(json.dumps(row(item)) + "\n" for item in items), encoding="utf-8")
    shots = task.shots or items[:1]  # lm-eval wants a few-shot split even when no example is used
    shots_path.write_text("".join(json.dumps(row(item)) + "\n" for item in shots), encoding="utf-8")
    config: dict[str, Any] = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(test_path), "train": str(shots_path)}},
        "test_split": "test",
        "fewshot_split": "train",
        "fewshot_config": {"sampler": "first_n"},
        "num_fewshot": len(task.shots),
        "doc_to_text": "{{query}}",
        "target_delimiter": " ",
        "fewshot_delimiter": "\n\n",
        "description": task.instruction.strip() if chat else task.instruction.strip() + "\n\n",
    }
    if spec.kind == "choice":
        config.update(
            output_type="multiple_choice",
            doc_to_choice="{{choices}}",
            doc_to_target="{{label}}",
            metric_list=[{"metric": "acc"}],
        )
    else:
        config.update(
            output_type="generate_until",
            doc_to_target="{{answer}}",
            generation_kwargs={"until": list(spec.stop), "max_gen_toks": spec.max_new_tokens, "do_sample": False},
            metric_list=[{"metric": "exact_match"}],
        )
    return config


def _fitting_batch_size(requested: int, vocab_size: int, context: int = 2048) -> int:
    """lm-eval keeps float32 logits over the whole vocabulary for every position of a batch (and copies them
    for the log-softmax): Qwen's 151,936-token vocabulary with 5-shot MMLU contexts needs about 3.7 GB a row,
    and a batch of 8 ran a 24 GB machine out of memory. Cap the batch to a quarter of the available memory."""
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not Linux: keep what was asked for
        return requested
    per_row = context * vocab_size * 4 * 3
    fitting = max(1, int(available // 4 // per_row))
    if fitting < requested:
        print(f"lm-eval batch size {fitting} instead of {requested} (memory for the logits)", file=sys.stderr)
    return min(requested, fitting)


def _lm_eval_results(
    args: argparse.Namespace, benchmark: str, model: Any, out: Path, selected: list[Any], tasks: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per item: lm-eval's prediction and context, cached in ``out/lm_eval-BENCHMARK.json``."""
    cyclic = args.option_orders.get(benchmark) == "cyclic"
    cache = out / f"lm_eval-{benchmark}{'-cyclic' if cyclic else ''}.json"
    if cache.is_file():
        cached: dict[str, dict[str, Any]] = json.loads(cache.read_text(encoding="utf-8"))
        return cached
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    from fipo_integrations.evaluation.data import BENCHMARK_SPECS

    model.load()
    chat = BENCHMARK_SPECS[benchmark].kind == "generate" and model.chat
    batch_size = _fitting_batch_size(args.batch_size, model.backend.model.config.vocab_size)
    lm = HFLM(pretrained=model.backend.model, tokenizer=model.backend.tokenizer, batch_size=batch_size)
    configs = []
    by_task: dict[str, list[Any]] = {}
    if cyclic:  # every rotation of the options as its own document; averaged per option below, as fipo eval does
        selected = [
            replace(item.rotated(shift), item_id=f"{item.item_id}@{shift}")
            for item in selected
            for shift in range(len(item.choices))
        ]
    for item in selected:
        by_task.setdefault(item.task, []).append(item)
    for task_name, items in sorted(by_task.items()):
        configs.append(_task_config(benchmark, tasks[task_name], items, out / "lm_eval_tasks", chat))
    output = lm_eval.simple_evaluate(
        model=lm,
        tasks=configs,
        log_samples=True,
        apply_chat_template=chat,
        fewshot_as_multiturn=chat,
        **dict.fromkeys(("random_seed", "numpy_random_seed", "torch_random_seed", "fewshot_random_seed"), args.seed),
        bootstrap_iters=0,
    )
    results: dict[str, dict[str, Any]] = {}
    for samples in output["samples"].values():
        for sample in samples:
            doc = sample["doc"]
            context = sample["arguments"][0][0] if sample["arguments"] else ""
            entry: dict[str, Any] = {"context": context}
            if "choices" in doc:
                loglikelihoods = [float(resp[0][0]) for resp in sample["resps"]]
                best = max(range(len(loglikelihoods)), key=lambda index: (loglikelihoods[index], -index))
                entry.update(prediction=doc["choices"][best], loglikelihoods=loglikelihoods)
            else:
                entry["response"] = sample["resps"][0][0]
            results[doc["id"]] = entry
    if cyclic:
        results = _average_rotations(results)
    cache.write_text(json.dumps(results, ensure_ascii=False) + "\n", encoding="utf-8")
    return results


def _average_rotations(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Fold ``ID@SHIFT`` entries into one per item: each option's log-likelihood averaged over its positions
    (option ``i`` shows under letter ``i - shift``), the prediction its best option, the context of shift 0."""
    rotations: dict[str, dict[int, dict[str, Any]]] = {}
    for key, entry in results.items():
        item_id, _, shift = key.rpartition("@")
        rotations.setdefault(item_id, {})[int(shift)] = entry
    folded: dict[str, dict[str, Any]] = {}
    for item_id, shifts in rotations.items():
        count = len(shifts)
        scores = [shifts[k]["loglikelihoods"] for k in range(count)]
        averaged = [sum(scores[k][(i - k) % count] for k in range(count)) / count for i in range(count)]
        best = max(range(count), key=lambda index: (averaged[index], -index))
        letters = "ABCDEFGHIJ"[:count]
        folded[item_id] = {"context": shifts[0]["context"], "prediction": letters[best], "loglikelihoods": averaged}
    return folded


def _our_context(model: Any, benchmark: str, record: dict[str, Any], task: Any, item: Any) -> str:
    from fipo_integrations.evaluation.data import build_messages, build_prompt

    shots = task.shots[: record["shots"]]
    if record.get("format") == "chat":
        text, _ = model._text(build_messages(task.instruction, shots, item))
        return str(text)
    return build_prompt(task.instruction, shots, item)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="folder with gsm8k/, bbh/, piqa/, cosmosqa/, mmlu/")
    parser.add_argument("--limit", type=int, default=60, help="items per benchmark (drawn as fipo eval draws them)")
    parser.add_argument(
        "--limit-generate",
        type=int,
        default=None,
        help="items for GSM8K and BBH when fewer than --limit (generation is the slow part on a CPU)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", action="append", help="testing model spec (repeatable)")
    parser.add_argument("--benchmark", action="append", choices=BENCHMARKS, help="repeatable (default: all five)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--dtype",
        default="float32",
        help="precision of both runs (default float32: bf16 rounding differs between batch shapes, which blurs "
        "the comparison of the two scorers; pass auto to calibrate the default path)",
    )
    parser.add_argument(
        "--option-order",
        action="append",
        metavar="BENCH=ORDER",
        help="as fipo eval's --option-order: given or cyclic (default piqa=cyclic); both scorers use it",
    )
    parser.add_argument("--out", default="runs/eval-calibration", help="cache and report folder")
    args = parser.parse_args()
    from fipo_integrations.evaluation.runner import DEFAULT_OPTION_ORDERS

    args.option_orders = dict(DEFAULT_OPTION_ORDERS)
    for value in args.option_order or []:
        name, _, order = value.partition("=")
        args.option_orders[name] = order
    args.model = args.model or ["embedded:smollm2-135m-instruct", "embedded:qwen2.5-coder-0.5b-instruct"]
    args.benchmark = args.benchmark or list(BENCHMARKS)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import datasets

    datasets.disable_progress_bars()

    from fipo_integrations.evaluation.data import select_items
    from fipo_integrations.evaluation.loaders import load_benchmark
    from fipo_integrations.evaluation.runner import _GSM8K_DONE
    from fipo_integrations.evaluation.scoring import score_generation

    data = {name: load_benchmark(name, args.data_dir) for name in args.benchmark}
    rows = []
    started = time.perf_counter()
    for spec in args.model:
        out = Path(args.out) / spec.replace(":", "_").replace("/", "_")
        ours, model = _our_results(args, spec, out)
        for name in args.benchmark:
            selected = select_items(data[name], _limit(args, name), args.seed)
            tasks = {task.task: task for task in data[name].tasks}
            theirs = _lm_eval_results(args, name, model, out, selected, tasks)
            ours_correct = theirs_correct = agree = same_prompt = 0
            loglik_gap = 0.0
            for item in selected:
                record, other = ours[item.item_id], theirs[item.item_id]
                if "prediction" in other:
                    their_prediction, their_ok = other["prediction"], other["prediction"] == item.target
                    our_prediction = record["prediction"]
                    if record.get("logprobs"):
                        gaps = [abs(a - b) for a, b in zip(record["logprobs"], other["loglikelihoods"], strict=True)]
                        loglik_gap = max(loglik_gap, *gaps)
                else:
                    # fipo eval stops GSM8K generation once the answer is stated; lm-eval has no regex stop,
                    # so its (greedy, hence identical up to there) reply is cut at the same point.
                    response = other["response"]
                    if name == "gsm8k":
                        done = re.search(_GSM8K_DONE, response)
                        response = response[: done.end()] if done else response
                    their_prediction, their_ok = score_generation(name, response, item.target)
                    our_prediction = score_generation(name, record.get("response", ""), item.target)[0]
                ours_correct += bool(record["correct"])
                theirs_correct += bool(their_ok)
                agree += our_prediction == their_prediction
                task = tasks[item.task]
                same_prompt += _our_context(model, name, record, task, item) == other["context"]
            n = len(selected)
            rows.append(
                (
                    name,
                    model.label,
                    n,
                    records_format(ours, selected),
                    100 * ours_correct / n,
                    100 * theirs_correct / n,
                    100 * agree / n,
                    100 * same_prompt / n,
                    loglik_gap,
                )
            )
        model.close()
    print(f"\n{len(rows)} rows in {time.perf_counter() - started:.0f} s\n")
    print(
        "| benchmark | model | n | format | ours % | lm-eval % | difference | per-item agreement % | same prompt % "
        "| max abs. log-lik. gap |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, label, n, fmt, mine, theirs_acc, agreement, prompt, gap in rows:
        print(
            f"| {name} | {label} | {n} | {fmt} | {mine:.1f} | {theirs_acc:.1f} | {mine - theirs_acc:+.1f} "
            f"| {agreement:.1f} | {prompt:.0f} | {gap:.4f} |"
        )
    return 0


def records_format(records: dict[str, dict[str, Any]], selected: list[Any]) -> str:
    """How our harness prompted these items (``plain`` / ``chat``), with the scoring method (and ``cyclic`` where
    every option order was scored)."""
    chosen = [records[item.item_id] for item in selected]
    kinds = {(record.get("format", "?"), record["method"], "given_order_logprobs" in record) for record in chosen}
    return ", ".join(f"{fmt} {method}{' cyclic' if cyclic else ''}" for fmt, method, cyclic in sorted(kinds))


if __name__ == "__main__":
    sys.exit(main())
