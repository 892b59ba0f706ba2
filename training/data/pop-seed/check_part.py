"""Quick authoring check for one POP seed part file (the full checks live in tests/)."""
import json, re, sys
FIELDS = ["id","task_kind","raw_prompt","text003_response_based_raw","gpt4_response_based_raw",
          "gpt4_optimized_prompt","chatgpt_optimized_prompt","source","license"]
KINDS = {"arithmetic","multi_step_reasoning","multiple_choice","reading_comprehension","commonsense_physical",
         "classification","extraction","summarisation","editing","creative_writing","coding","format_conversion","open_qa"}
PH = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
path = sys.argv[1]; ids=set(); raws=set(); problems=0; n=0; kinds={}
for i, line in enumerate(open(path, encoding="utf-8"), 1):
    if not line.strip(): continue
    n += 1
    try: r = json.loads(line)
    except Exception as e: print(f"{path}:{i}: bad JSON: {e}"); problems+=1; continue
    for f in FIELDS:
        if f not in r or not isinstance(r[f], str): print(f"{path}:{i}: missing/non-string field {f}"); problems+=1
    if set(r) - set(FIELDS): print(f"{path}:{i}: extra fields {set(r)-set(FIELDS)}"); problems+=1
    if r.get("task_kind") not in KINDS: print(f"{path}:{i}: bad task_kind {r.get('task_kind')}"); problems+=1
    kinds[r.get("task_kind")] = kinds.get(r.get("task_kind"),0)+1
    if r.get("id") in ids: print(f"{path}:{i}: duplicate id"); problems+=1
    ids.add(r.get("id"))
    key = " ".join(str(r.get("raw_prompt","")).lower().split())
    if key in raws: print(f"{path}:{i}: duplicate raw_prompt"); problems+=1
    raws.add(key)
    for f in ["raw_prompt","gpt4_response_based_raw","gpt4_optimized_prompt","chatgpt_optimized_prompt","source","license"]:
        if not str(r.get(f,"")).strip(): print(f"{path}:{i}: empty {f}"); problems+=1
    missing = set(PH.findall(r.get("raw_prompt",""))) - set(PH.findall(r.get("gpt4_optimized_prompt","")))
    if missing: print(f"{path}:{i}: chosen prompt loses placeholders {missing}"); problems+=1
    if r.get("gpt4_optimized_prompt","").strip() == r.get("chatgpt_optimized_prompt","").strip():
        print(f"{path}:{i}: chosen == rejected"); problems+=1
    src = r.get("source","")
    if any(s in src for s in ["bbh","test_dev","cosmosqa","piqa","mmlu-test"]): print(f"{path}:{i}: forbidden source"); problems+=1
print(f"{n} records, {problems} problems, kinds: {kinds}")
sys.exit(1 if problems else 0)
