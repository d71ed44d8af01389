import BedsideCore
import BedsideSync
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

    @Test("an EMR enrols a patient: Patient created, invitation in the patient's language, code used once to set a password, then logins work")
    func enrolment() async throws {
        try await withServer { server in
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

    @Test("a replay with If-None-Exist on the MRN returns the same Patient and invites nobody twice; a used e-mail, a bad address, no name are refused")
    func refusals() async throws {
        try await withServer { server in
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

    @Test("five wrong enrolment codes lock the name for 15 minutes, as wrong passwords do; an unknown name answers as a wrong code")
    func lockout() async throws {
        try await withServer { server in
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
