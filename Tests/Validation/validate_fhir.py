#!/usr/bin/env python3
"""Independent validation of bedside-server's FHIR output with third-party tools.

Starts the real server binary on a fresh, seeded data dir (dev TLS, ephemeral port),
logs in through the e-mailed one-time code, and checks the responses with
  * fhir.resources -- using its FHIR R4B models (fhir.resources.R4B, FHIR 4.3.0;
    the package's top-level models are R5 and it ships no plain R4 set any more.
    R4B keeps R4's Observation/Patient/Bundle/Task/Flag/OperationOutcome/
    CapabilityStatement structures), and
  * fhirpy's AsyncFHIRClient (aiohttp), trusting the dev CA.

Usage: python3 Tests/Validation/validate_fhir.py [path/to/bedside-server]
Prints "ok  <name>" or "FAIL <name>: reason" per check; exits 1 if any failed.
"""
import asyncio
import datetime as dt
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

try:
    import requests
    from fhir.resources.R4B import get_fhir_model_class
    from fhirpy import AsyncFHIRClient
except ImportError as exc:
    sys.exit(f"{exc}: run `pip install -r Tests/Validation/requirements.txt` first")

PATIENT = ("marie@demo.bedside.test", "demo-patient-2026")
CLINICIAN = ("nurse.anna@demo.bedside.test", "demo-nurse-anna-71")
FHIR_JSON = "application/fhir+json"
OBSERVATION_STATUS = {"registered", "preliminary", "final", "amended", "corrected",
                      "cancelled", "entered-in-error", "unknown"}

failures = []
passes = []


def check(name, fn):
    """Run one check; print ok/FAIL and remember failures. Returns fn's result or None.
    A check that returns a string has it shown as a detail after its name."""
    try:
        result = fn()
        detail = f" ({result})" if isinstance(result, str) else ""
        print(f"ok  {name}{detail}", flush=True)
        passes.append(name)
        return result
    except Exception as exc:  # noqa: BLE001 -- every failure is reported, none stops the run
        reason = str(exc).strip() or type(exc).__name__
        if not isinstance(exc, AssertionError):
            reason = f"{type(exc).__name__}: {reason}"
        print(f"FAIL {name}: {reason}", flush=True)
        failures.append(name)
        if os.environ.get("VALIDATE_DEBUG"):
            traceback.print_exc()
        return None


def json_rule_violations(value, path="$"):
    """FHIR JSON (R4 section 2.6.2): no nulls, empty arrays, empty objects or empty strings.
    fhir.resources does not enforce this (it accepts e.g. "entry": []), so check it here."""
    if value is None or value in ("", [], {}):
        return [f"{path} = {json.dumps(value)}"]
    if isinstance(value, dict):
        return [v for k, item in value.items() for v in json_rule_violations(item, f"{path}.{k}")]
    if isinstance(value, list):
        return [v for i, item in enumerate(value) for v in json_rule_violations(item, f"{path}[{i}]")]
    return []


def validate(resource_type, data):
    """Parse data with the fhir.resources R4B model; raise with the JSON on rejection."""
    assert isinstance(data, dict), f"expected a JSON object, got {type(data).__name__}"
    bad = json_rule_violations(data)
    assert not bad, (f"{resource_type} breaks the FHIR JSON rule (no null/empty values): "
                     f"{', '.join(bad)}\nJSON: {json.dumps(data)[:2000]}")
    assert data.get("resourceType") == resource_type, \
        f"resourceType is {data.get('resourceType')!r}, expected {resource_type!r}"
    try:
        return get_fhir_model_class(resource_type).model_validate(data)
    except Exception as exc:
        raise AssertionError(f"fhir.resources rejected {resource_type}: {exc}\n"
                             f"JSON: {json.dumps(data)[:2000]}") from None


def expect_status(resp, status):
    assert resp.status_code == status, \
        f"{resp.request.method} {resp.url} -> {resp.status_code}, expected {status}: {resp.text[:500]}"
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.startswith(FHIR_JSON), f"Content-Type is {ctype!r}, expected {FHIR_JSON}"
    return resp.json()


def validate_bundle(data, bundle_type, entry_type=None):
    """Validate a Bundle and each entry's resource; return the entry resources."""
    validate("Bundle", data)
    assert data["type"] == bundle_type, f"Bundle.type is {data['type']!r}, expected {bundle_type!r}"
    resources = [e["resource"] for e in data.get("entry", []) if "resource" in e]
    for res in resources:
        validate(entry_type or res.get("resourceType"), res)
    return resources


def validate_outcome(resp, status):
    data = expect_status(resp, status)
    validate("OperationOutcome", data)
    assert data["issue"][0].get("code"), "issue[0].code is missing"
    return data


# ---------------------------------------------------------------- server and login

def start_server(binary, data_dir, extra_args=()):
    subprocess.run([binary, "seed-demo", "--data-dir", data_dir], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    log_path = os.path.join(data_dir, "serve.log")
    log = open(log_path, "w")
    proc = subprocess.Popen([binary, "serve", "--dev-tls", "--port", "0", "--data-dir", data_dir, *extra_args],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        with open(log_path) as f:
            m = re.search(r"listening on https://127\.0\.0\.1:(\d+)/fhir", f.read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()  # never leave a half-started server behind
    proc.wait()
    with open(log_path) as f:
        raise RuntimeError(f"server did not start (exit {proc.returncode}):\n{f.read()[-2000:]}")


def stop_server(proc):
    """SIGTERM, then SIGKILL if it does not stop within 10 s."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def login(base, ca, data_dir, username, password):
    mail_dir = os.path.join(data_dir, "mail", "new")
    before = set(os.listdir(mail_dir)) if os.path.isdir(mail_dir) else set()
    r = requests.post(f"{base}/auth/login", json={"username": username, "password": password},
                      verify=ca, timeout=30)
    assert r.status_code == 202, f"login -> {r.status_code}: {r.text[:300]}"
    body = r.json()
    assert body.get("challenge") and isinstance(body.get("expiresIn"), int), f"login body: {body}"
    code, deadline = None, time.time() + 10
    while code is None and time.time() < deadline:
        new = [os.path.join(mail_dir, n) for n in set(os.listdir(mail_dir)) - before] \
            if os.path.isdir(mail_dir) else []
        for path in sorted(new, key=os.path.getmtime, reverse=True):
            text = open(path, encoding="utf-8").read()
            m = re.search(r"Your Bedside login code is: (\d{6})", text)
            if m and f"To: {username}" in text:
                code = m.group(1)
                break
        else:
            time.sleep(0.1)
    assert code, f"no login code mail for {username} in {mail_dir}"
    r = requests.post(f"{base}/auth/otp", json={"challenge": body["challenge"], "code": code},
                      verify=ca, timeout=30)
    assert r.status_code == 200, f"otp -> {r.status_code}: {r.text[:300]}"
    return r.json()


# ---------------------------------------------------------------- request bodies

def weight_observation(patient_id, client_id, kilograms=72.4, unit_code="kg"):
    now = dt.datetime.now(dt.timezone.utc).astimezone().replace(microsecond=0)
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{client_id}"}],
        "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7",
                             "display": "Body weight"}], "text": "Body weight"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": now.isoformat(),  # always with an offset, e.g. +00:00
        "valueQuantity": {"value": kilograms, "unit": unit_code,
                          "system": "http://unitsofmeasure.org", "code": unit_code},
    }


def transaction(observation, client_id):
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{
            "fullUrl": f"urn:uuid:{client_id}",
            "resource": observation,
            "request": {"method": "POST", "url": "Observation",
                        "ifNoneExist": f"identifier=urn:ietf:rfc:3986|urn:uuid:{client_id}"},
        }],
    }


# ---------------------------------------------------------------- checks

def run_checks(base, ca, patient_id, p_hdr, c_hdr):
    fhir = f"{base}/fhir"

    def get(path, headers, **params):
        return requests.get(f"{fhir}/{path}", headers=headers, params=params, verify=ca, timeout=30)

    def post(body, headers, path=""):
        data = body if isinstance(body, str) else json.dumps(body)
        return requests.post(f"{fhir}/{path}", data=data, verify=ca, timeout=30,
                             headers={**headers, "Content-Type": FHIR_JSON})

    def capability():
        data = expect_status(get("metadata", p_hdr), 200)
        validate("CapabilityStatement", data)
        assert data["fhirVersion"].startswith("4."), f"fhirVersion {data['fhirVersion']}"
        types = {r["type"] for rest in data["rest"] for r in rest.get("resource", [])}
        assert {"Observation", "Patient", "Task", "Flag"} <= types, f"resources: {sorted(types)}"
    check("CapabilityStatement GET /fhir/metadata", capability)

    def observation_search():
        data = expect_status(get("Observation", p_hdr, patient=patient_id, _count=5), 200)
        observations = validate_bundle(data, "searchset", "Observation")
        assert 0 < len(observations) <= 5, f"{len(observations)} entries for _count=5"
        for obs in observations:
            assert obs["subject"]["reference"] == f"Patient/{patient_id}", obs["subject"]
            assert obs["meta"]["versionId"] and obs["meta"]["lastUpdated"], obs.get("meta")
            # fhir.resources does not check required code bindings, so check the key ones here.
            assert obs["status"] in OBSERVATION_STATUS, f"Observation.status {obs['status']!r}"
        assert any(link["relation"] == "next" for link in data.get("link", [])), "no next link"
        return f"{len(observations)} entries"
    check("searchset Bundle + each Observation (GET /fhir/Observation?patient&_count=5)",
          observation_search)

    client_id = str(uuid.uuid4())
    body = transaction(weight_observation(patient_id, client_id), client_id)

    def request_body_valid():  # make sure what we send is itself valid R4B
        validate_bundle(body, "transaction")
    check("own transaction request Bundle is valid", request_body_valid)

    def post_transaction(expected_prefix):
        data = expect_status(post(body, p_hdr), 200)
        validate_bundle(data, "transaction-response")
        assert len(data["entry"]) == 1, f"{len(data['entry'])} response entries"
        status = data["entry"][0]["response"]["status"]
        assert status.startswith(expected_prefix), f"entry status {status!r}, expected {expected_prefix}"
        return data["entry"][0]["response"].get("location")
    first = check("transaction-response Bundle (POST /fhir, new Observation -> 201)",
                  lambda: post_transaction("201"))
    second = check("transaction replay with ifNoneExist -> entry status 200",
                   lambda: post_transaction("200"))

    def one_resource():
        ident = f"urn:ietf:rfc:3986|urn:uuid:{client_id}"
        found = validate_bundle(expect_status(get("Observation", p_hdr, identifier=ident), 200),
                                "searchset", "Observation")
        assert len(found) == 1, f"{len(found)} Observations with identifier {ident}"
        assert found[0]["valueQuantity"]["value"] == 72.4, found[0]["valueQuantity"]
        if first and second:
            assert first.split("/_history")[0] == second.split("/_history")[0], \
                f"locations differ: {first} vs {second}"
    check("replay made exactly one Observation", one_resource)

    def unit_422():
        bad_id = str(uuid.uuid4())
        bad = transaction(weight_observation(patient_id, bad_id, 160, "lbs"), bad_id)
        validate_outcome(post(bad, p_hdr), 422)
    check("OperationOutcome 422 (valueQuantity.code 'lbs')", unit_422)
    check("OperationOutcome 400 (malformed JSON)",
          lambda: validate_outcome(post('{"resourceType": "Bundle", ', p_hdr), 400))
    check("OperationOutcome 404 (GET /fhir/Observation/does-not-exist)",
          lambda: validate_outcome(get("Observation/does-not-exist", p_hdr), 404))
    check("OperationOutcome 401 (no token)",
          lambda: validate_outcome(get("Observation", {}, patient=patient_id), 401))

    def patient_read():
        data = expect_status(get(f"Patient/{patient_id}", p_hdr), 200)
        validate("Patient", data)
        assert data["id"] == patient_id, f"id {data['id']}"
        assert data.get("name"), "Patient has no name"
    check("Patient GET /fhir/Patient/<id>", patient_read)

    def task_search():
        data = expect_status(get("Task", p_hdr, owner=f"Patient/{patient_id}", status="requested"), 200)
        for task in validate_bundle(data, "searchset", "Task"):
            assert task["status"] == "requested", task["status"]
            assert task["focus"]["reference"].startswith("Questionnaire/"), task.get("focus")
            assert task["for"]["reference"] == f"Patient/{patient_id}", task.get("for")
        return f"{len(data.get('entry', []))} entries"
    check("Task searchset (GET /fhir/Task?owner=Patient/<id>&status=requested)", task_search)

    def flag_search():
        data = expect_status(get("Flag", c_hdr, status="active"), 200)
        for flag in validate_bundle(data, "searchset", "Flag"):
            assert flag["status"] == "active", flag["status"]
        return f"{len(data.get('entry', []))} entries"
    check("Flag searchset as clinician (GET /fhir/Flag?status=active)", flag_search)

    def patient_search():
        data = expect_status(get("Patient", c_hdr), 200)
        patients = validate_bundle(data, "searchset", "Patient")
        assert patients, "the clinician sees no patients"
        return f"{len(patients)} patients"
    check("Patient searchset as clinician (GET /fhir/Patient)", patient_search)

    def search_etag():
        params = {"owner": f"Patient/{patient_id}", "status": "requested"}
        first = get("Task", p_hdr, **params)
        expect_status(first, 200)
        tag = first.headers.get("ETag", "")
        assert re.fullmatch(r'W/"search-[0-9a-f]{16}"', tag), f"ETag {tag!r}"
        again = get("Task", {**p_hdr, "If-None-Match": tag}, **params)
        assert again.status_code == 304 and not again.content, f"-> {again.status_code}: {again.text[:300]}"
        return tag
    check("searchset ETag, If-None-Match -> 304 (GET /fhir/Task?owner&status)", search_etag)

    # The Patient's current version (the demo puts patients in a care programme, a second version).
    patient_etag = get(f"Patient/{patient_id}", p_hdr).headers.get("ETag", 'W/"1"')
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": f"Observation?patient={patient_id}&_count=3"}},
            {"request": {"method": "GET", "url": f"Patient/{patient_id}"}},
            {"request": {"method": "GET", "url": f"Patient/{patient_id}", "ifNoneMatch": patient_etag}},
            {"request": {"method": "GET", "url": "Observation/does-not-exist"}},
            {"resource": weight_observation(patient_id, str(uuid.uuid4())),
             "request": {"method": "POST", "url": "Observation"}},
        ],
    }
    check("own batch request Bundle is valid", lambda: validate_bundle(batch, "batch"))

    def post_batch():
        data = expect_status(post(batch, p_hdr), 200)
        validate_bundle(data, "batch-response")
        entries = data["entry"]
        statuses = [e["response"]["status"] for e in entries]
        assert statuses == ["200 OK", "200 OK", "304 Not Modified", "404 Not Found", "400 Bad Request"], statuses
        validate_bundle(entries[0]["resource"], "searchset", "Observation")
        for entry in entries[3:]:
            validate("OperationOutcome", entry["response"]["outcome"])
        assert entries[4]["response"]["outcome"]["issue"][0]["code"] == "not-supported"
        return f"{len(entries)} entries"
    check("batch-response Bundle (POST /fhir batch: search, read, 304, 404, refused POST)", post_batch)

    def corpus():
        # The public Observations of Tests/Fixtures/Observations, posted as the patient's own (their
        # identifiers left out: some published examples share one, and identifiers are unique per
        # patient); each answer must itself be valid FHIR.
        folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "Observations")
        files = sorted(f for f in os.listdir(folder) if f.endswith(".json"))
        assert len(files) >= 30, f"{len(files)} files"
        for name in files:
            with open(os.path.join(folder, name)) as handle:
                resource = json.load(handle)
            resource.pop("id", None)
            resource.pop("identifier", None)
            resource["subject"] = {"reference": f"Patient/{patient_id}"}
            resp = post(resource, p_hdr, "Observation")
            assert resp.status_code == 201, f"{name}: {resp.status_code} {resp.text[:300]}"
            validate("Observation", resp.json())
        return f"{len(files)} public Observations accepted"
    check("public Observations (FHIR R4 examples, US Core, ISiK) accepted, answers valid", corpus)

    def summary_count():
        data = expect_status(get("Observation", p_hdr, patient=patient_id, _summary="count"), 200)
        labs = expect_status(get("Observation", p_hdr, patient=patient_id, _summary="count", category="laboratory"), 200)
        assert 0 < labs["total"] < data["total"], (labs["total"], data["total"])
        validate("Bundle", data)
        assert data["total"] > 30 and "entry" not in data, (data.get("total"), "entry" in data)
        return f"total {data['total']}"
    check("_summary=count: a searchset Bundle with total and no entries", summary_count)

    def structure_definitions():
        resp = requests.get(f"{fhir}/StructureDefinition", headers={"Accept": FHIR_JSON}, verify=ca, timeout=30)
        data = expect_status(resp, 200)
        definitions = validate_bundle(data, "searchset", "StructureDefinition")
        assert len(definitions) >= 6, f"{len(definitions)} StructureDefinitions"
        for definition in definitions:
            one = expect_status(requests.get(f"{fhir}/StructureDefinition/{definition['id']}", verify=ca, timeout=30), 200)
            validate("StructureDefinition", one)
            assert one["url"].endswith("/" + one["id"]), one["url"]
        return f"{len(definitions)} extensions"
    check("StructureDefinitions of Bedside's extensions (public, valid)", structure_definitions)

    def flag_include():
        data = expect_status(get("Flag", c_hdr, status="active", _include="Flag:patient"), 200)
        validate_bundle(data, "searchset")
        modes = {(e["resource"]["resourceType"], e["search"]["mode"]) for e in data.get("entry", [])}
        assert ("Flag", "match") in modes and ("Patient", "include") in modes, modes
        return f"{len(data.get('entry', []))} entries"
    check("_include=Flag:patient as clinician: Flags and their Patients (mode include)", flag_include)

    def elements_and_pretty():
        resp = get("Observation", p_hdr, patient=patient_id, _elements="value,effective", _count=5, _pretty="true")
        assert resp.text.startswith('{\n  "resourceType": "Bundle"'), resp.text[:60]
        observations = validate_bundle(expect_status(resp, 200), "searchset", "Observation")
        for obs in observations:
            assert "subject" not in obs and "note" not in obs, sorted(obs)
            assert any(tag.get("code") == "SUBSETTED" for tag in obs["meta"].get("tag", [])), obs["meta"]
        return f"{len(observations)} subsetted entries, indented"
    check("_elements=value,effective and _pretty=true: SUBSETTED, valid Observations, indented Bundle", elements_and_pretty)

    check("OperationOutcome 406 (_format=xml)", lambda: validate_outcome(get("metadata", p_hdr, _format="xml"), 406))

    def method_405():
        resp = requests.delete(f"{fhir}/Observation/x", headers=p_hdr, verify=ca, timeout=30)
        validate_outcome(resp, 405)
        assert resp.headers.get("Allow") == "GET, PUT", resp.headers.get("Allow")
    check("OperationOutcome 405 with Allow (DELETE /fhir/Observation/x)", method_405)


async def fhirpy_checks(base, ca, patient_id, token):
    ctx = ssl.create_default_context(cafile=ca)
    # fhirpy passes aiohttp_config as keyword arguments to aiohttp's session.request().
    client = AsyncFHIRClient(f"{base}/fhir", authorization=f"Bearer {token}",
                             aiohttp_config={"ssl": ctx})
    results = {}
    try:
        results["obs"] = await client.resources("Observation").search(patient=patient_id).limit(10).fetch()
    except Exception as exc:  # noqa: BLE001
        results["obs"] = exc
    try:
        results["patient"] = await client.reference("Patient", patient_id).to_resource()
    except Exception as exc:  # noqa: BLE001
        results["patient"] = exc
    return results


async def fetch_everything(base, ca, token, types):
    """fhirpy's fetch_all over every page of each type the token may search."""
    ctx = ssl.create_default_context(cafile=ca)
    client = AsyncFHIRClient(f"{base}/fhir", authorization=f"Bearer {token}", aiohttp_config={"ssl": ctx})
    found = {}
    for resource_type in types:
        found[resource_type] = await client.resources(resource_type).limit(100).fetch_all()
    return found


def check_fetch_all(base, ca, who, token, types):
    def everything():
        found = asyncio.run(fetch_everything(base, ca, token, types))
        total = 0
        for resource_type, resources in found.items():
            for resource in resources:
                assert resource.resource_type == resource_type, resource.resource_type
                validate(resource_type, resource.serialize())
            total += len(resources)
        assert total > 0, "nothing readable"
        return ", ".join(f"{len(found[t])} {t}" for t in types)
    check(f"fhirpy: fetch_all of everything the {who} may read, each valid", everything)


def check_fhirpy(base, ca, patient_id, token):
    results = asyncio.run(fhirpy_checks(base, ca, patient_id, token))

    def observations():
        obs = results["obs"]
        if isinstance(obs, Exception):
            raise obs
        assert 0 < len(obs) <= 10, f"{len(obs)} Observations"
        for o in obs:
            assert o.resource_type == "Observation", o.resource_type
            codes = [c.get("code") for c in o["code"]["coding"]]
            assert all(codes), f"coding without code in {o.id}"
            assert o["subject"]["reference"] == f"Patient/{patient_id}", o["subject"]
            assert o.get("valueQuantity") or o.get("component"), f"no value in {o.id}"
            validate("Observation", o.serialize())
        return f"{len(obs)} Observations"
    check("fhirpy: Observation search(patient).limit(10).fetch()", observations)

    def patient():
        p = results["patient"]
        if isinstance(p, Exception):
            raise p
        assert p.resource_type == "Patient" and p.id == patient_id, (p.resource_type, p.id)
        assert p["name"][0].get("family") or p["name"][0].get("text"), p["name"]
        validate("Patient", p.serialize())
    check("fhirpy: Patient by id", patient)


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/bedside-server")
    data_dir = tempfile.mkdtemp(prefix="bedside-validate-")
    proc = None
    try:
        proc, port = start_server(binary, data_dir)
        base, ca = f"https://127.0.0.1:{port}", os.path.join(data_dir, "tls", "ca.pem")
        patient = check("login patient (password + e-mailed code)",
                        lambda: login(base, ca, data_dir, *PATIENT))
        clinician = check("login clinician (password + e-mailed code)",
                          lambda: login(base, ca, data_dir, *CLINICIAN))
        if patient and clinician:
            patient_id = patient["patient"]
            p_hdr = {"Authorization": f"Bearer {patient['accessToken']}", "Accept": FHIR_JSON}
            c_hdr = {"Authorization": f"Bearer {clinician['accessToken']}", "Accept": FHIR_JSON}
            run_checks(base, ca, patient_id, p_hdr, c_hdr)
            check_fhirpy(base, ca, patient_id, patient["accessToken"])
            readable = ["Observation", "QuestionnaireResponse", "Task", "Flag", "Patient", "Questionnaire"]
            check_fetch_all(base, ca, "patient", patient["accessToken"], readable)
            check_fetch_all(base, ca, "clinician", clinician["accessToken"], readable)
    except Exception as exc:  # noqa: BLE001
        print(f"FAIL setup: {type(exc).__name__}: {exc}")
        failures.append("setup")
    finally:
        stop_server(proc)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"validate_fhir: {len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
