#!/usr/bin/env python3
"""Every questionnaire fixture, filled by the real `bedside questionnaire fill`, gives a
QuestionnaireResponse that the independent fhir.resources (R4B models) validator accepts.

For each form in Tests/Fixtures/Questionnaires: once with no answers (initial values only), and once
per case in expected.json (the sources' own answers and derived ones), so enableWhen, repeating
groups and calculated items all reach the validator. The response must also name its questionnaire
(when the form has a url or id),
keep only the form's linkIds, and carry the calculated values expected.json requires.

Usage: validate_responses.py PATH/TO/bedside
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from validate_fhir import validate  # noqa: E402  (the same R4B check the server's output gets)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "Questionnaires")


def link_ids(items):
    for item in items or []:
        yield item["linkId"]
        yield from link_ids(item.get("item"))
        for answer in item.get("answer", []):
            yield from link_ids(answer.get("item"))


def first_answer(items, link_id):
    for item in items or []:
        if item["linkId"] == link_id:
            return (item.get("answer") or [None])[0]
        for nested in [item.get("item")] + [a.get("item") for a in item.get("answer", [])]:
            found = first_answer(nested, link_id)
            if found is not None:
                return found
    return None


def answer_number(answer):
    for key in ("valueDecimal", "valueInteger"):
        if key in answer:
            return answer[key]
    if "valueQuantity" in answer:
        return answer["valueQuantity"].get("value")
    return None


def fill(bedside, form_path, answers):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as sheet:
        json.dump(answers, sheet)
    try:
        run = subprocess.run([bedside, "questionnaire", "fill", form_path, "--answers", sheet.name],
                             capture_output=True, text=True, timeout=60, env={**os.environ, "LANG": "C.UTF-8"})
    finally:
        os.unlink(sheet.name)
    # 0: complete, 1: something required is missing (still a valid in-progress response).
    assert run.returncode in (0, 1), f"fill exited {run.returncode}: {run.stderr[:500]}"
    return json.loads(run.stdout)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    bedside = sys.argv[1]
    expected = json.load(open(os.path.join(FIXTURES, "expected.json")))["questionnaires"]
    checked, failures = 0, []
    for name in sorted(os.listdir(FIXTURES)):
        if not name.endswith(".json") or name == "expected.json":
            continue
        path = os.path.join(FIXTURES, name)
        form = json.load(open(path))
        known = set(link_ids(form.get("item")))
        cases = [{"name": "no answers", "answers": {}}] + expected.get(name, {}).get("cases", [])
        for case in cases:
            label = f"{name} / {case['name']}"
            try:
                response = fill(bedside, path, case["answers"])
                validate("QuestionnaireResponse", response)
                if form.get("url") or form.get("id"):
                    assert response.get("questionnaire"), "the response does not name its questionnaire"
                stray = set(link_ids(response.get("item"))) - known
                assert not stray, f"linkIds not in the form: {sorted(stray)}"
                for link_id, value in (case.get("calculated") or {}).items():
                    answer = first_answer(response.get("item"), link_id)
                    if value is None:
                        assert answer is None, f"{link_id} should have no value, has {answer}"
                    elif isinstance(value, (int, float)):
                        places = case.get("tolerance_places", expected.get(name, {}).get("tolerance_places"))
                        got = answer_number(answer or {})
                        assert got is not None, f"{link_id} has no number: {answer}"
                        assert (round(got, places) == round(value, places)) if places is not None else got == value, \
                            f"{link_id} = {got}, expected {value}"
                checked += 1
                print(f"ok   {label}")
            except Exception as error:  # noqa: BLE001 (report every form, then fail)
                failures.append(f"{label}: {error}")
                print(f"FAIL {label}: {error}")
    print(f"{checked} responses accepted by fhir.resources (R4B), {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
