import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

/// Onboarding over FHIR: an EMR creates a Patient with an e-mail address; the patient gets an
/// invitation with a single-use enrolment code, chooses a password with it, and is logged in.
@Suite("Onboarding and enrolment")
struct OnboardingTests {
    static func patient(email: String?, name: String = "Marie Jansen", mrn: String? = nil) -> JSONValue {
        var object: JSONObject = [
            "resourceType": "Patient", "active": true, "name": [["text": .string(name), "family": "Jansen", "given": ["Marie"]]],
            "birthDate": "1946-03-14", "gender": "female",
            "communication": [["language": ["coding": [["system": "urn:ietf:bcp:47", "code": "nl-NL"]]], "preferred": true]],
        ]
        var telecom: [JSONValue] = [["system": "phone", "value": "+31 6 1234 5601", "use": "mobile"]]
        if let email { telecom.append(["system": "email", "value": .string(email)]) }
        object["telecom"] = .array(telecom)
        if let mrn { object["identifier"] = [["system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": .string(mrn)]] }
        return .object(object)
    }

    func enrol(_ server: TestServer, _ email: String, code: String, password: String) async throws -> HTTPResponseData {
        try await server.request("POST", "/auth/enrol", json: ["username": .string(email), "code": .string(code), "password": .string(password)])
    }

    @Test("an EMR enrols a patient: Patient created, invitation in the patient's language, code used once to set a password, then logins work", arguments: StoreBackend.allCases)
    func enrolment(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let emr = TestEMR()
            let clientID = try await server.register(emr, scopes: "system/Patient.crs")
            let token = try await server.systemToken(emr, clientID: clientID, scope: "system/Patient.crs")
            let created = try await server.request("POST", "/fhir/Patient", token: token, json: Self.patient(email: "Marie.Jansen@Example.org"))
            #expect(created.status == 201, "\(created.text)")
            let patientID = try #require(created.json?["id"]?.stringValue)
            #expect(created.json?["telecom"]?.arrayValue?.count == 2, "stored as sent")
            let account = try #require(try await server.store.read { db in try db.account(email: "marie.jansen@example.org") })
            #expect(account.patientID == patientID && account.role == .patient && account.passwordHash.isEmpty && account.language == "nl")

            let mail = try #require(server.server.latestEnrolmentCode(for: "marie.jansen@example.org"), "an invitation was mailed")
            let stored = try #require(try await server.store.read { db in try db.enrolment(accountID: account.id) })
            #expect(!stored.codeHash.contains(mail) && stored.expiresAt == server.clock.now() + 7 * 86_400_000, "hashed, valid 7 days")
            // Not yet enrolled: a login is refused as for an unknown name.
            #expect(try await server.startLogin("marie.jansen@example.org", password: "").status == 401)

            let password = "lantern-orbit-meadow-42"
            #expect(try await enrol(server, "marie.jansen@example.org", code: mail, password: "short").status == 422, "the policy first")
            #expect(try await enrol(server, "marie.jansen@example.org", code: "AAAA-BBBB-CCCC", password: password).status == 401)
            let enrolled = try await enrol(server, "Marie.Jansen@example.org", code: mail.lowercased().replacingOccurrences(of: "-", with: " "), password: password)
            #expect(enrolled.status == 200, "\(enrolled.text)")
            #expect(enrolled.json?["patient"]?.stringValue == patientID && enrolled.json?["role"]?.stringValue == "patient")
            let session = try #require(enrolled.json?["accessToken"]?.stringValue)
            #expect(try await server.request("GET", "/fhir/Patient/\(patientID)", token: session).status == 200)
            #expect(try await enrol(server, "marie.jansen@example.org", code: mail, password: "another-lantern-orbit-7").status == 401, "used once")
            #expect(try await server.login("marie.jansen@example.org", password: password).token.count > 20, "the password now logs in")
            let actions = try await server.store.read { db in try db.auditEvents(after: 0, limit: 1000) }.map(\.event.action)
            #expect(actions.contains("invite") && actions.contains("enrol") && actions.contains("enrol-failure"))
        }
    }

    @Test("bedside-server user invite: an expired code is replaced by a new one that works, the old one not; refused for an enrolled patient and for clinicians", arguments: StoreBackend.allCases)
    func reinvite(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let emr = TestEMR()
            let clientID = try await server.register(emr, scopes: "system/Patient.c")
            let token = try await server.systemToken(emr, clientID: clientID, scope: "system/Patient.c")
            let created = try await server.request("POST", "/fhir/Patient", token: token, json: Self.patient(email: "late@example.org"))
            #expect(created.status == 201, "\(created.text)")
            let first = try #require(server.server.latestEnrolmentCode(for: "late@example.org"))
            server.clock.advance(minutes: 7 * 24 * 60 + 1)
            let password = "lantern-orbit-meadow-42"
            #expect(try await enrol(server, "late@example.org", code: first, password: password).status == 401, "expired after 7 days")

            let sent = try await ServerExecutable.run(["user", "invite"] + server.server.commandArguments + ["--email", "Late@Example.org"])
            #expect(sent.status == 0 && sent.output.contains("new enrolment code"), "\(sent.output)\(sent.error)")
            let second = try #require(server.server.latestEnrolmentCode(for: "late@example.org"))
            #expect(second != first)
            // The command line's clock is the real one, later than the test server's: the new code is valid for both.
            #expect(try await enrol(server, "late@example.org", code: first, password: password).status == 401, "the old code is gone")
            #expect(try await enrol(server, "late@example.org", code: second, password: password).status == 200)

            let again = try await ServerExecutable.run(["user", "invite"] + server.server.commandArguments + ["--email", "late@example.org"])
            #expect(again.status != 0 && again.error.contains("already enrolled"), "\(again.error)")
            _ = try await server.addClinician("nurse.invite@example.org")
            let clinician = try await ServerExecutable.run(["user", "invite"] + server.server.commandArguments + ["--email", "nurse.invite@example.org"])
            #expect(clinician.status != 0 && clinician.error.contains("not a patient"), "\(clinician.error)")
            let nobody = try await ServerExecutable.run(["user", "invite"] + server.server.commandArguments + ["--email", "nobody@example.org"])
            #expect(nobody.status != 0 && nobody.error.contains("no account"), "\(nobody.error)")
        }
    }

    @Test("a replay with If-None-Exist on the MRN returns the same Patient and invites nobody twice; a used e-mail, a bad address, no name are refused", arguments: StoreBackend.allCases)
    func refusals(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let emr = TestEMR()
            let clientID = try await server.register(emr, scopes: "system/Patient.cr")
            let token = try await server.systemToken(emr, clientID: clientID, scope: "system/Patient.cr")
            let condition = [("If-None-Exist", "identifier=urn:oid:2.16.840.1.113883.2.4.6.3|123456782")]
            let first = try await server.request("POST", "/fhir/Patient", token: token, json: Self.patient(email: "ruth@example.org", mrn: "123456782"), headers: condition)
            let again = try await server.request("POST", "/fhir/Patient", token: token, json: Self.patient(email: "ruth@example.org", mrn: "123456782"), headers: condition)
            #expect(first.status == 201 && again.status == 200 && first.json?["id"] == again.json?["id"], "\(again.text)")
            let mails = try FileManager.default.contentsOfDirectory(atPath: server.directory.appendingPathComponent("mail/new").path)
            #expect(mails.count == 1, "one invitation")
            let sameMRN = try await server.request("POST", "/fhir/Patient", token: token, json: Self.patient(email: "other@example.org", mrn: "123456782"))
            #expect(sameMRN.status == 422 && sameMRN.issueCode == "duplicate", "an MRN names one patient")
            _ = try await server.addPatient("taken@example.org")
            let taken = try await server.request("POST", "/fhir/Patient", token: token, json: Self.patient(email: "taken@example.org"))
            #expect(taken.status == 422 && taken.issueCode == "duplicate")
            let bad = try await server.request("POST", "/fhir/Patient", token: token, json: Self.patient(email: "not-an-address"))
            #expect(bad.status == 422 && bad.json?["issue"]?.arrayValue?.first?["expression"]?.arrayValue?.first?.stringValue == "Patient.telecom[1].value")
            var nameless = Self.patient(email: "nameless@example.org").objectValue ?? [:]
            nameless["name"] = nil
            #expect(try await server.request("POST", "/fhir/Patient", token: token, json: .object(nameless)).status == 422)
            let noEmail = try await server.request("POST", "/fhir/Patient", token: token, json: Self.patient(email: nil, name: "Kees de Vries"))
            #expect(noEmail.status == 201, "a Patient without an e-mail is kept, with no account")
            let patients = try await server.store.read { db in try db.count(type: "Patient") }
            let accounts = try await server.store.read { db in try db.accounts() }.count
            #expect(patients == 3 && accounts == 2, "\(patients) Patients, \(accounts) accounts")
            let person = try await server.login("taken@example.org").token
            #expect(try await server.request("POST", "/fhir/Patient", token: person, json: Self.patient(email: "x@example.org")).status == 405, "people do not create Patients")
        }
    }

    @Test("five wrong enrolment codes lock the name for 15 minutes, as wrong passwords do; an unknown name answers as a wrong code", arguments: StoreBackend.allCases)
    func lockout(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let emr = TestEMR()
            let clientID = try await server.register(emr, scopes: "system/Patient.c")
            let token = try await server.systemToken(emr, clientID: clientID, scope: "system/Patient.c")
            #expect(try await server.request("POST", "/fhir/Patient", token: token, json: Self.patient(email: "locked@example.org")).status == 201)
            let code = try #require(server.server.latestEnrolmentCode(for: "locked@example.org"))
            let password = "lantern-orbit-meadow-42"
            for _ in 0..<4 { #expect(try await enrol(server, "locked@example.org", code: "AAAA-AAAA-AAAA", password: password).status == 401) }
            #expect(try await enrol(server, "locked@example.org", code: "AAAA-AAAA-AAAA", password: password).status == 423)
            #expect(try await enrol(server, "locked@example.org", code: code, password: password).status == 423, "even the right code, while locked")
            #expect(try await enrol(server, "nobody@example.org", code: code, password: password).status == 401)
            server.clock.advance(minutes: 16)
            #expect(try await enrol(server, "locked@example.org", code: code, password: password).status == 200)
        }
    }
}

/// CareTeams decide who sees a patient, whoever writes them; a Task assigns a stored Questionnaire.
@Suite("Care teams and assignments over FHIR")
struct CareTeamTests {
    @Test("an EMR's CareTeam lets its Practitioners see the patient while active; inactive ends it; team add and remove write CareTeams too", arguments: StoreBackend.allCases)
    func careTeams(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("cared@example.org")
            let patientID = try #require(patient.patientID)
            let nurse = try await server.addClinician("nurse.emr@example.org")
            let practitionerID = try #require(nurse.practitionerID)
            let patientToken = try await server.login("cared@example.org").token
            #expect(try await server.request("POST", "/fhir/Observation", token: patientToken, json: server.weight(80, patientID: patientID)).status == 201)
            let nurseToken = try await server.login("nurse.emr@example.org").token
            #expect(try await server.request("GET", "/fhir/Observation", token: nurseToken).entries.isEmpty, "not yet in a care team")

            let emr = TestEMR()
            let clientID = try await server.register(emr, scopes: "system/CareTeam.cruds")
            let token = try await server.systemToken(emr, clientID: clientID, scope: "system/CareTeam.cruds")
            let careTeam: JSONValue = [
                "resourceType": "CareTeam", "status": "active", "subject": ["reference": .string("Patient/\(patientID)")],
                "participant": [["member": ["reference": .string("Practitioner/\(practitionerID)")]], ["member": ["reference": "Practitioner/unknown-gp"]]],
            ]
            let created = try await server.request("POST", "/fhir/CareTeam", token: token, json: careTeam)
            #expect(created.status == 201, "\(created.text)")
            #expect(try await server.request("GET", "/fhir/Observation", token: nurseToken).entries.count == 1, "in the team: sees the patient")
            var inactive = try #require(created.json?.objectValue)
            inactive["status"] = "inactive"
            let ended = try await server.request(
                "PUT", "/fhir/CareTeam/\(created.json?["id"]?.stringValue ?? "")", token: token, json: .object(inactive), headers: [("If-Match", "W/\"1\"")])
            #expect(ended.status == 200, "\(ended.text)")
            #expect(try await server.request("GET", "/fhir/Observation", token: nurseToken).entries.isEmpty, "the team ended: nothing seen")

            try await server.administration.addTeamMember(clinicianEmail: "nurse.emr@example.org", patientEmail: "cared@example.org")
            let teams = try await server.request("GET", "/fhir/CareTeam?patient=\(patientID)&status=active", token: nurseToken)
            #expect(teams.entries.count == 1 && teams.entries.first?["resource"]?["identifier"]?.arrayValue?.first?["system"]?.stringValue == CareTeams.managedSystem)
            #expect(try await server.request("GET", "/fhir/Observation", token: nurseToken).entries.count == 1)
            try await server.administration.removeTeamMember(clinicianEmail: "nurse.emr@example.org", patientEmail: "cared@example.org")
            #expect(try await server.request("GET", "/fhir/Observation", token: nurseToken).entries.isEmpty)
            let bad: JSONValue = ["resourceType": "CareTeam", "participant": [["member": ["reference": "Practitioner/x"]]]]
            #expect(try await server.request("POST", "/fhir/CareTeam", token: token, json: bad).status == 422, "a CareTeam is for a patient")
        }
    }

    @Test("an EMR stores a Questionnaire and assigns it with a Task the patient's app finds; a Task for a form the server lacks is refused", arguments: StoreBackend.allCases)
    func assignments(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patient = try await server.addPatient("assigned@example.org")
            let patientID = try #require(patient.patientID)
            let emr = TestEMR()
            let scopes = "system/Questionnaire.crus system/ValueSet.cru system/Task.crus"
            let clientID = try await server.register(emr, scopes: scopes)
            let token = try await server.systemToken(emr, clientID: clientID, scope: scopes)
            let questionnaire: JSONValue = [
                "resourceType": "Questionnaire", "url": "https://emr.example.org/Questionnaire/breathless", "status": "active",
                "title": "Breathlessness", "item": [["linkId": "1", "text": "How breathless are you today (0-10)?", "type": "integer"]],
            ]
            let form = try await server.request("POST", "/fhir/Questionnaire", token: token, json: questionnaire)
            #expect(form.status == 201, "\(form.text)")
            let formID = try #require(form.json?["id"]?.stringValue)
            let task: JSONValue = [
                "resourceType": "Task", "status": "requested", "intent": "order",
                "focus": ["reference": .string("Questionnaire/\(formID)")], "for": ["reference": .string("Patient/\(patientID)")],
                "owner": ["reference": .string("Patient/\(patientID)")], "restriction": ["period": ["end": "2026-12-01"]],
            ]
            #expect(try await server.request("POST", "/fhir/Task", token: token, json: task).status == 201)
            let patientToken = try await server.login("assigned@example.org").token
            let tasks = try await server.request("GET", "/fhir/Task?owner=Patient/\(patientID)&status=requested", token: patientToken)
            #expect(tasks.entries.count == 1)
            var missing = try #require(task.objectValue)
            missing["focus"] = ["reference": "Questionnaire/nothing-here"]
            let refused = try await server.request("POST", "/fhir/Task", token: token, json: .object(missing))
            #expect(refused.status == 422, "\(refused.text)")
            let empty: JSONValue = ["resourceType": "ValueSet", "url": "https://emr.example.org/ValueSet/empty", "status": "active"]
            #expect(try await server.request("POST", "/fhir/ValueSet", token: token, json: empty).status == 422, "a value set lists codes")
        }
    }
}
