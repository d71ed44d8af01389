#!/usr/bin/env python3
"""An EMR against the real bedside-server, with independent tools (issue #16).

Plays a care organisation's system: makes its own ES384 and RS384 key pairs (cryptography), registers the
public halves with `bedside-server client add`, signs SMART Backend Services client assertions with PyJWT,
gets tokens from the token endpoint and reads within its scopes; fhir.resources validates what comes back.

Usage: python3 Tests/Validation/emr_backend.py [path/to/bedside-server]  (the bedside app beside it enrols the patient)
Prints "ok  <name>" or "FAIL <name>: reason" per check; exits 1 if any failed.
"""
import csv
import json
import re
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

try:
    import jwt
    import requests
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm
except ImportError as exc:
    sys.exit(f"{exc}: run `pip install -r Tests/Validation/requirements.txt` first")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import validate_fhir as vf  # noqa: E402  (the server starter, check() and the fhir.resources validation)
import hook_receiver  # noqa: E402  (an https Subscription endpoint with a CA of its own)

BEDSIDE = None
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class EMR:
    """Key pairs and signed assertions, as an EMR's integration engine makes them."""

    def __init__(self):
        self.ec_key = ec.generate_private_key(ec.SECP384R1())
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self):
        keys = []
        for kid, key, algorithm in (("es384-1", self.ec_key, ECAlgorithm), ("rs384-1", self.rsa_key, RSAAlgorithm)):
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            jwk.update({"kid": kid, "use": "sig", "alg": "ES384" if key is self.ec_key else "RS384"})
            keys.append(jwk)
        return {"keys": keys}

    def assertion(self, client_id, token_url, alg="ES384", lifetime=240, jti=None, aud=None):
        key, kid = (self.ec_key, "es384-1") if alg == "ES384" else (self.rsa_key, "rs384-1")
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": aud or token_url, "exp": now + lifetime,
                  "jti": jti or str(uuid.uuid4())}
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": "JWT"})


def token_request(token_url, ca, assertion, scope):
    return requests.post(token_url, data={
        "grant_type": "client_credentials", "scope": scope,
        "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion,
    }, verify=ca, timeout=30)


def run(binary, base, ca, data_dir, receiver=None):
    fhir = f"{base}/fhir"
    emr = EMR()

    def discovery():
        r = requests.get(f"{fhir}/.well-known/smart-configuration", verify=ca, timeout=30)
        assert r.status_code == 200, r.status_code
        config = r.json()
        assert config["token_endpoint"] == f"{base}/auth/token", config["token_endpoint"]
        assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"], config
        assert {"ES384", "RS384"} <= set(config["token_endpoint_auth_signing_alg_values_supported"]), config
        return config["token_endpoint"]
    token_url = vf.check("SMART discovery (/fhir/.well-known/smart-configuration)", discovery)
    if not token_url:
        return

    def register():
        path = os.path.join(data_dir, "emr-jwks.json")
        with open(path, "w") as f:
            json.dump(emr.jwks(), f)
        out = subprocess.run([binary, "client", "add", "--data-dir", data_dir, "--name", "Test EMR", "--jwks-file", path,
                              "--scope", "system/*.rs system/Observation.c system/Patient.c system/Subscription.cu system/Group.c"],
                             check=True, capture_output=True, text=True, timeout=60)
        client_id = out.stdout.strip()
        assert len(client_id.splitlines()) == 1 and len(client_id) >= 16, repr(out.stdout)
        listed = subprocess.run([binary, "client", "list", "--data-dir", data_dir], check=True, capture_output=True, text=True,
                                timeout=60).stdout
        assert client_id in listed and "Test EMR" in listed, listed
        return client_id
    client_id = vf.check("client add prints the client_id alone; client list shows it", register)
    if not client_id:
        return

    tokens = {}
    for alg in ("ES384", "RS384"):
        def token(alg=alg):
            r = token_request(token_url, ca, emr.assertion(client_id, token_url, alg=alg), "system/Observation.rs system/Patient.rs")
            assert r.status_code == 200, f"{r.status_code}: {r.text[:300]}"
            body = r.json()
            assert body["token_type"].lower() == "bearer" and 0 < body["expires_in"] <= 300, body
            assert set(body["scope"].split()) == {"system/Observation.rs", "system/Patient.rs"}, body["scope"]
            assert r.headers.get("Cache-Control") == "no-store", r.headers
            tokens[alg] = body["access_token"]
            return f"scope {body['scope']}"
        vf.check(f"token for a PyJWT {alg} assertion (client_credentials, private_key_jwt)", token)

    def refusals():
        once = emr.assertion(client_id, token_url, jti="replayed-jti")
        assert token_request(token_url, ca, once, "system/Observation.rs").status_code == 200
        cases = {
            "replayed jti": (once, "system/Observation.rs", 400, "invalid_grant"),
            "exp 10 minutes ahead": (emr.assertion(client_id, token_url, lifetime=600), "system/Observation.rs", 400, "invalid_grant"),
            "aud elsewhere": (emr.assertion(client_id, token_url, aud="https://elsewhere.example/token"), "system/Observation.rs",
                              401, "invalid_client"),
            "unregistered scope": (emr.assertion(client_id, token_url), "system/Task.cud", 400, "invalid_scope"),
            "unknown client": (emr.assertion("nobody", token_url), "system/Observation.rs", 401, "invalid_client"),
        }
        for name, (assertion, scope, status, error) in cases.items():
            r = token_request(token_url, ca, assertion, scope)
            assert (r.status_code, r.json().get("error")) == (status, error), f"{name}: {r.status_code} {r.text[:200]}"
        return f"{len(cases)} refused"
    vf.check("refusals as OAuth errors (replay, exp, aud, scope, client)", refusals)

    token = tokens.get("ES384")
    if not token:
        return
    headers = {"Authorization": f"Bearer {token}", "Accept": vf.FHIR_JSON}

    def search_all_patients():
        r = requests.get(f"{fhir}/Observation", headers=headers, params={"_count": 100, "_include": "Observation:patient"},
                         verify=ca, timeout=30)
        data = vf.expect_status(r, 200)
        vf.validate_bundle(data, "searchset")
        patients = {e["resource"]["subject"]["reference"] for e in data.get("entry", []) if e["search"]["mode"] == "match"}
        included = [e for e in data.get("entry", []) if e["search"]["mode"] == "include"]
        assert len(patients) >= 2 and included, f"{len(patients)} patients, {len(included)} included"
        return f"{len(data['entry'])} entries over {len(patients)} patients, each valid"
    vf.check("system/Observation.rs: a searchset over every patient, valid", search_all_patients)

    def forbidden():
        r = requests.get(f"{fhir}/Flag", headers=headers, verify=ca, timeout=30)
        vf.validate_outcome(r, 403)
        assert r.json()["issue"][0]["code"] == "forbidden", r.text[:200]
    vf.check("a type outside the token's scopes: 403 forbidden OperationOutcome", forbidden)

    def audited():
        out = subprocess.run([binary, "audit", "--json", "--data-dir", data_dir], check=True, capture_output=True, text=True,
                             timeout=60).stdout
        events = [json.loads(line) for line in out.splitlines() if line.strip()]
        mine = [e for e in events if e.get("actorID") == client_id or e.get("actorId") == client_id or e.get("actor") == client_id]
        assert mine, f"no audit line names {client_id}; e.g. {events[-1] if events else None}"
        assert any("system" in json.dumps(e) for e in mine), mine[:2]
        return f"{len(mine)} lines name the client"
    vf.check("the audit names the client as the actor (role system)", audited)
    onboarding(binary, BEDSIDE, base, ca, data_dir, emr, client_id, token_url)
    if receiver:
        subscriptions(base, ca, emr, client_id, token_url, receiver)
    bulk_export(base, ca, emr, client_id, token_url)


def subscriptions(base, ca, emr, client_id, token_url, receiver):
    """Two rest-hook Subscriptions (alerts and vital signs) to an https endpoint the server trusts only through
    --outbound-ca-file; a vital sign out of range is written; each notification is a valid history Bundle."""
    fhir = f"{base}/fhir"
    scope = "system/Subscription.cru system/Observation.crs system/Flag.rs system/Patient.rs"
    r = token_request(token_url, ca, emr.assertion(client_id, token_url), scope)
    token = r.json().get("access_token")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": vf.FHIR_JSON, "Accept": vf.FHIR_JSON}
    secret = f"Bearer hook-{uuid.uuid4()}"
    ids = {}

    def subscribe():
        for name, criteria in (("alerts", "Flag?status=active"), ("vitals", "Observation?category=vital-signs")):
            subscription = {"resourceType": "Subscription", "status": "requested", "reason": f"EMR {name}", "criteria": criteria,
                            "channel": {"type": "rest-hook", "endpoint": f"{receiver.url}/hook/{name}",
                                        "payload": "application/fhir+json", "header": [f"Authorization: {secret}"]}}
            vf.validate("Subscription", subscription)
            created = requests.post(f"{fhir}/Subscription", data=json.dumps(subscription), headers=headers, verify=ca, timeout=30)
            assert created.status_code == 201, f"{created.status_code}: {created.text[:300]}"
            vf.validate("Subscription", created.json())
            assert created.json()["status"] == "active", created.json()
            ids[name] = created.json()["id"]
        plain = dict(subscription, channel=dict(subscription["channel"], endpoint="http://127.0.0.1:9/hook"))
        refused = requests.post(f"{fhir}/Subscription", data=json.dumps(plain), headers=headers, verify=ca, timeout=30)
        vf.validate_outcome(refused, 422)
        return "Flag?status=active and Observation?category=vital-signs active; an http endpoint 422"
    vf.check("POST /fhir/Subscription (rest-hook, https): active, valid; plain http refused", subscribe)
    if len(ids) != 2:
        return

    def notified():
        patients = requests.get(f"{fhir}/Patient", params={"_count": 1}, headers=headers, verify=ca, timeout=30).json()
        patient_id = patients["entry"][0]["resource"]["id"]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        observation = {
            "resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
            "subject": {"reference": f"Patient/{patient_id}"}, "effectiveDateTime": now,
            "valueQuantity": {"value": 171, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
        }
        created = requests.post(f"{fhir}/Observation", data=json.dumps(observation), headers=headers, verify=ca, timeout=30)
        assert created.status_code == 201, f"{created.status_code}: {created.text[:300]}"
        observation_id, version = created.json()["id"], created.json()["meta"]["versionId"]
        deadline = time.time() + 20
        seen = {}
        while time.time() < deadline and len(seen) < 2:
            for note in receiver.notifications():
                name = note["path"].rsplit("/", 1)[-1]
                seen.setdefault(name, []).append(note)
            if len(seen) < 2:
                seen = {}
                time.sleep(0.2)
        assert "vitals" in seen, f"no vital-signs notification within 20 s (got {sorted(seen)})"
        for name, notes in seen.items():
            for note in notes:
                assert note["headers"].get("Authorization") == secret, f"{name}: the subscription's header did not arrive"
                assert note["headers"].get("Content-Type", "").startswith(vf.FHIR_JSON), note["headers"]
                resources = vf.validate_bundle(note["json"], "history")
                for entry in note["json"]["entry"]:
                    assert entry["response"]["etag"] == f'W/"{entry["resource"]["meta"]["versionId"]}"', entry["response"]
        vitals = [e["resource"] for n in seen["vitals"] for e in n["json"]["entry"]]
        assert any(r["id"] == observation_id and r["meta"]["versionId"] == version for r in vitals), vitals
        assert "alerts" in seen, "the Observation out of range raised no Flag notification within 20 s"
        flags = [e["resource"] for n in seen["alerts"] for e in n["json"]["entry"]]
        assert flags and all(r["resourceType"] == "Flag" and r["status"] == "active" for r in flags), flags
        return f"{sum(len(n) for n in seen.values())} notifications, each a valid history Bundle with the header"
    vf.check("notifications: the vital sign and its alert POSTed to the endpoint, valid, with id, version and header", notified)


def bulk_export(base, ca, emr, client_id, token_url):
    """Bulk Data $export as an EMR runs it: kick-off with Prefer: respond-async, poll the Content-Location,
    fetch every NDJSON file with the token and validate each line with fhir.resources; a Group export
    holds its members only; DELETE ends the job."""
    fhir = f"{base}/fhir"
    r = token_request(token_url, ca, emr.assertion(client_id, token_url), "system/*.rs system/Group.c")
    token = r.json().get("access_token")
    auth = {"Authorization": f"Bearer {token}"}
    asynchronous = dict(auth, Prefer="respond-async", Accept=vf.FHIR_JSON)

    def finish(kick_off):
        assert kick_off.status_code == 202, f"{kick_off.status_code}: {kick_off.text[:300]}"
        status_url = kick_off.headers["Content-Location"]
        assert status_url.startswith(base + "/bulk/"), status_url
        deadline = time.time() + 60
        while time.time() < deadline:
            polled = requests.get(status_url, headers=auth, verify=ca, timeout=30)
            if polled.status_code != 202:
                break
            assert "X-Progress" in polled.headers and "Retry-After" in polled.headers, polled.headers
            time.sleep(0.2)
        assert polled.status_code == 200, f"{polled.status_code}: {polled.text[:300]}"
        manifest = polled.json()
        assert manifest["requiresAccessToken"] is True and manifest["transactionTime"] and manifest["request"], manifest
        lines = {}
        for output in manifest["output"]:
            unauthorised = requests.get(output["url"], verify=ca, timeout=30)
            assert unauthorised.status_code == 401, f"a file without the token: {unauthorised.status_code}"
            got = requests.get(output["url"], headers=auth, verify=ca, timeout=60)
            assert got.status_code == 200 and got.headers["Content-Type"].startswith("application/fhir+ndjson"), got.headers
            assert got.text.endswith("\n"), "the last line ends with a newline"
            resources = [json.loads(line) for line in got.text.splitlines()]
            assert len(resources) == output["count"], (len(resources), output)
            for resource in resources:
                assert resource["resourceType"] == output["type"], resource["resourceType"]
                vf.validate(output["type"], resource)
            lines.setdefault(output["type"], []).extend(resources)
        return status_url, manifest, lines

    def synchronous_refused():
        vf.validate_outcome(requests.get(f"{fhir}/$export", headers=auth, verify=ca, timeout=30), 400)
        vf.validate_outcome(requests.get(f"{fhir}/$export", params={"_type": "Nothing"}, headers=asynchronous, verify=ca, timeout=30), 400)
        return "without Prefer: respond-async, and an unknown _type: 400 OperationOutcome"
    vf.check("$export kick-off refusals", synchronous_refused)

    def system_export():
        status_url, manifest, lines = finish(requests.get(f"{fhir}/$export", params={"_type": "Patient,Observation,Flag"},
                                                          headers=asynchronous, verify=ca, timeout=30))
        total = requests.get(f"{fhir}/Observation", params={"_summary": "count"}, headers=auth, verify=ca, timeout=30).json()["total"]
        assert len(lines.get("Observation", [])) == total, (len(lines.get("Observation", [])), total)
        assert lines.get("Patient"), "no Patient file"
        files = [output["url"] for output in manifest["output"]]
        deleted = requests.delete(status_url, headers=auth, verify=ca, timeout=30)
        assert deleted.status_code == 202, deleted.status_code
        assert requests.get(status_url, headers=auth, verify=ca, timeout=30).status_code == 404
        assert all(requests.get(url, headers=auth, verify=ca, timeout=30).status_code == 404 for url in files)
        counts = ", ".join(f"{len(v)} {k}" for k, v in sorted(lines.items()))
        return f"{counts}, every line valid R4; deleted: status and files 404"
    vf.check("system $export: manifest, NDJSON files validated line by line with fhir.resources, DELETE", system_export)

    def group_export():
        patients = requests.get(f"{fhir}/Patient", params={"_count": 1}, headers=auth, verify=ca, timeout=30).json()
        patient_id = patients["entry"][0]["resource"]["id"]
        group = {"resourceType": "Group", "type": "person", "actual": True, "name": "Heart failure programme",
                 "member": [{"entity": {"reference": f"Patient/{patient_id}"}}]}
        vf.validate("Group", group)
        created = requests.post(f"{fhir}/Group", data=json.dumps(group), headers=dict(auth, **{"Content-Type": vf.FHIR_JSON}),
                                verify=ca, timeout=30)
        assert created.status_code == 201, f"{created.status_code}: {created.text[:300]}"
        vf.validate("Group", created.json())
        _, _, lines = finish(requests.get(f"{fhir}/Group/{created.json()['id']}/$export", headers=asynchronous, verify=ca, timeout=30))
        assert [p["id"] for p in lines.get("Patient", [])] == [patient_id], lines.get("Patient")
        subjects = {o["subject"]["reference"] for o in lines.get("Observation", [])}
        assert subjects <= {f"Patient/{patient_id}"}, subjects
        return f"Group of 1: its Patient and {len(lines.get('Observation', []))} Observations, nobody else's"
    vf.check("Group/[id]/$export holds the members' compartments only", group_export)


def latest_mail_code(data_dir, email, pattern):
    folder = os.path.join(data_dir, "mail", "new")
    for name in sorted(os.listdir(folder), reverse=True):
        text = open(os.path.join(folder, name), encoding="utf-8").read()
        if f"To: {email}" in text:
            m = re.search(pattern, text)
            if m:
                return m.group(1)
    return None


def run_bedside(bedside, args, stdin_text, home):
    env = {**os.environ, "HOME": home, "XDG_DATA_HOME": os.path.join(home, "data"), "XDG_CONFIG_HOME": os.path.join(home, "config"),
           "LANG": "C.UTF-8"}
    return subprocess.run([bedside] + args, input=stdin_text, capture_output=True, text=True, timeout=120, env=env)


def onboarding(binary, bedside, base, ca, data_dir, emr, client_id, token_url):
    """The EMR enrols a patient over FHIR; the patient runs `bedside enrol` with the e-mailed code."""
    fhir = f"{base}/fhir"
    r = token_request(token_url, ca, emr.assertion(client_id, token_url), "system/Patient.c system/Patient.rs")
    token = r.json().get("access_token")
    email = "anneke.visser@example.org"

    def create_patient():
        patient = {"resourceType": "Patient", "identifier": [{"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": "999911120"}],
                   "active": True, "name": [{"family": "Visser", "given": ["Anneke"]}], "birthDate": "1951-07-02", "gender": "female",
                   "telecom": [{"system": "email", "value": email}, {"system": "phone", "value": "+31 6 5555 0101", "use": "mobile"}]}
        vf.validate("Patient", patient)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": vf.FHIR_JSON,
                   "If-None-Exist": "identifier=urn:oid:2.16.840.1.113883.2.4.6.3|999911120"}
        created = requests.post(f"{fhir}/Patient", data=json.dumps(patient), headers=headers, verify=ca, timeout=30)
        assert created.status_code == 201, f"{created.status_code}: {created.text[:300]}"
        vf.validate("Patient", created.json())
        again = requests.post(f"{fhir}/Patient", data=json.dumps(patient), headers=headers, verify=ca, timeout=30)
        assert again.status_code == 200 and again.json()["id"] == created.json()["id"], again.status_code
        return created.json()["id"]
    patient_id = vf.check("POST /fhir/Patient with an e-mail (conditional on the MRN): created once, valid", create_patient)
    if not patient_id or not bedside:
        return

    def enrol():
        code = None
        deadline = time.time() + 10
        while code is None and time.time() < deadline:
            code = latest_mail_code(data_dir, email, r"enrolment code is: ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})")
            time.sleep(0.1)
        assert code, "no invitation mail with an enrolment code"
        home = tempfile.mkdtemp(prefix="bedside-enrol-")
        try:
            common = ["--server", base, "--ca-file", ca, "--user", email, "--password-stdin"]
            wrong = run_bedside(bedside, ["enrol"] + common, "AAAA-AAAA-AAAA\nlantern-orbit-meadow-42\n", home)
            assert wrong.returncode == 3 and "enrolment code" in wrong.stderr.lower(), (wrong.returncode, wrong.stderr)
            weak = run_bedside(bedside, ["enrol"] + common, f"{code}\nshort\n", home)
            assert weak.returncode == 3 and "password" in weak.stderr.lower(), (weak.returncode, weak.stderr)
            right = run_bedside(bedside, ["enrol"] + common, f"{code}\nlantern-orbit-meadow-42\n", home)
            assert right.returncode == 0, (right.returncode, right.stdout, right.stderr)
            status = run_bedside(bedside, ["status", "--json", "--password-stdin"], "lantern-orbit-meadow-42\n", home)
            assert status.returncode == 0 and email in status.stdout, (status.returncode, status.stdout, status.stderr)
            used = run_bedside(bedside, ["enrol"] + common + ["--data-dir", os.path.join(home, "second")],
                               f"{code}\nlantern-orbit-meadow-43\n", home)
            assert used.returncode == 3, (used.returncode, used.stderr)
            vf.check("bedside export (issue #17): the enrolled patient's own data as FHIR (fhir.resources) and CSV (csv module)",
                     lambda: own_export(bedside, home, "lantern-orbit-meadow-42"))
        finally:
            shutil.rmtree(home, ignore_errors=True)
        return "wrong code and weak password refused, then enrolled; the code works once"
    vf.check("bedside enrol with the e-mailed code: a password is set, the app is logged in", enrol)


def own_export(bedside, home, password):
    """The patient records two measurements and exports them: a collection Bundle fhir.resources accepts, and CSV that
    Python's csv module reads with the documented header; both files 0600; a wrong password writes nothing."""
    for args in (["blood-pressure", "142/91", "--at", "2026-11-20 08:15"],
                 ["weight", "81.6", "--at", "2026-11-21 07:30", "--note", 'after "breakfast", =SUM(A1)']):
        added = run_bedside(bedside, ["measure", "add", *args, "--password-stdin"], password + "\n", home)
        assert added.returncode == 0, (added.returncode, added.stderr)
    bundle_path, csv_path = os.path.join(home, "mine.json"), os.path.join(home, "mine.csv")
    for form, path in (("fhir", bundle_path), ("csv", csv_path)):
        done = run_bedside(bedside, ["export", "--format", form, "--output", path, "--password-stdin"], password + "\n", home)
        assert done.returncode == 0, (done.returncode, done.stderr)
        assert os.stat(path).st_mode & 0o777 == 0o600, oct(os.stat(path).st_mode)
    with open(bundle_path) as f:
        resources = vf.validate_bundle(json.load(f), "collection")
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    assert len(observations) == 2, [r["resourceType"] for r in resources]
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0].keys()) == "time,kind,code,value,unit,value2,unit2,note,state".split(","), rows[0].keys()
    pressure = next(r for r in rows if r["kind"] == "blood-pressure")
    assert (pressure["value"], pressure["value2"], pressure["unit"]) == ("142", "91", "mm[Hg]"), pressure
    weight = next(r for r in rows if r["kind"] == "weight")
    assert weight["note"] == 'after "breakfast", =SUM(A1)', weight
    assert re.fullmatch(r"2026-11-21T07:30:00([+-]\d\d:\d\d|Z)", weight["time"]), weight["time"]
    wrong_path = os.path.join(home, "wrong.csv")
    wrong = run_bedside(bedside, ["export", "--format", "csv", "--output", wrong_path, "--password-stdin"], "nope\n", home)
    assert wrong.returncode == 3 and not os.path.exists(wrong_path), (wrong.returncode, wrong.stderr)
    # Once sent, the server's copies come back with --from-server: a Bundle fhir.resources accepts too.
    synced = run_bedside(bedside, ["sync", "--password-stdin"], password + "\n", home)
    assert synced.returncode == 0, (synced.returncode, synced.stderr)
    server_path = os.path.join(home, "server.json")
    fetched = run_bedside(bedside, ["export", "--format", "fhir", "--from-server", "--output", server_path, "--password-stdin"],
                          password + "\n", home)
    assert fetched.returncode == 0, (fetched.returncode, fetched.stderr)
    with open(server_path) as f:
        held = vf.validate_bundle(json.load(f), "collection")
    assert sum(r["resourceType"] == "Observation" for r in held) == 2, [r["resourceType"] for r in held]
    return (f"{len(resources)} resources valid R4; {len(rows)} CSV rows; wrong password: exit 3, no file; "
            f"--from-server: {len(held)} resources valid R4")


def main():
    global BEDSIDE
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/bedside-server")
    BEDSIDE = os.path.join(os.path.dirname(binary), "bedside")
    if not os.path.exists(BEDSIDE):
        BEDSIDE = None
    data_dir = tempfile.mkdtemp(prefix="bedside-emr-")
    hook_dir = tempfile.mkdtemp(prefix="bedside-hook-")
    proc = None
    receiver = None
    try:
        paths = hook_receiver.make_ca_and_certificate(hook_dir)
        receiver = hook_receiver.HookReceiver(paths["hook.pem"], paths["hook.key"])
        proc, port = vf.start_server(binary, data_dir, ["--outbound-ca-file", paths["ca.pem"]])
        run(binary, f"https://127.0.0.1:{port}", os.path.join(data_dir, "tls", "ca.pem"), data_dir, receiver)
    except Exception as exc:  # noqa: BLE001
        print(f"FAIL setup: {type(exc).__name__}: {exc}")
        vf.failures.append("setup")
    finally:
        vf.stop_server(proc)
        if receiver:
            receiver.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(hook_dir, ignore_errors=True)
    print(f"emr_backend: {len(vf.passes)} passed, {len(vf.failures)} failed")
    return 1 if vf.failures else 0


if __name__ == "__main__":
    sys.exit(main())
