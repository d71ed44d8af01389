import BedsideCore
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

/// SMART Backend Services: an EMR registered with `client add` proves itself with a signed JWT and gets a
/// five-minute token for the system scopes asked and registered; every route keeps to those scopes.
@Suite("SMART Backend Services")
struct BackendServicesTests {
    @Test("scopes: v2 letters in order, v1 read/write/*, wildcards; a grant is the asked scopes cut to what is registered")
    func scopes() throws {
        let registered = try SMARTScopes.parse("system/Observation.rs system/Patient.cruds system/Flag.read", strict: true)
        #expect(registered.allows(.search, on: "Observation") && !registered.allows(.create, on: "Observation"))
        #expect(registered.allows(.delete, on: "Patient") && registered.allows(.search, on: "Flag") && !registered.allows(.update, on: "Flag"))
        let asked = try SMARTScopes.parse("system/Observation.crs system/Patient.read system/Task.rs openid", strict: false)
        #expect(registered.granting(asked).description == "system/Observation.rs system/Patient.read")
        let wildcard = try SMARTScopes.parse("system/*.read", strict: true)
        #expect(wildcard.granting(try SMARTScopes.parse("system/Flag.rs system/*.cruds", strict: false)).description == "system/Flag.rs system/*.rs")
        for bad in ["system/Observation.sr", "system/Observation.rr", "system/Nothing.rs", "patient/Observation.rs", "system/Observation.", "system/.rs",
            "system/Observation.rs?category=vital-signs", "user/*.*"]
        {
            #expect(throws: SMARTScopes.Refusal.self, "\(bad)") { try SMARTScopes.parse(bad, strict: true) }
        }
    }

    @Test("the discovery document is public and names the token endpoint, private_key_jwt, ES384 and RS384", arguments: StoreBackend.allCases)
    func discovery(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let answer = try await server.request("GET", "/fhir/.well-known/smart-configuration")
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.json?["token_endpoint"]?.stringValue == server.tokenURL)
            #expect(answer.json?["token_endpoint_auth_methods_supported"]?.arrayValue == ["private_key_jwt"])
            #expect(answer.json?["token_endpoint_auth_signing_alg_values_supported"]?.arrayValue == ["ES384", "RS384"])
            #expect(answer.json?["grant_types_supported"]?.arrayValue == ["client_credentials"])
            #expect(try await server.request("GET", "/fhir/.well-known/other").status == 404)
        }
    }

    @Test("a registered EMR gets a token for what it asked and was registered for; it reads every patient's data within those scopes, and the audit names it", arguments: StoreBackend.allCases)
    func tokenAndScopes(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let first = try await server.addPatient("emr-a@example.org")
            let second = try await server.addPatient("emr-b@example.org")
            for (email, patient) in [("emr-a@example.org", first), ("emr-b@example.org", second)] {
                let token = try await server.login(email).token
                #expect(try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(80, patientID: try #require(patient.patientID))).status == 201)
            }
            let emr = TestEMR()
            let clientID = try await server.register(emr, scopes: "system/Observation.crs system/Patient.rs")
            let assertion = try await emr.assertion(clientID: clientID, audience: server.tokenURL, now: server.clock.now())
            let answer = try await server.requestToken(TestEMR.form(assertion: assertion, scope: "system/Observation.rs system/Flag.rs"))
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.json?["token_type"]?.stringValue == "bearer" && answer.json?["expires_in"]?.intValue == 300)
            #expect(answer.json?["scope"]?.stringValue == "system/Observation.rs", "Flag was asked but not registered")
            #expect(answer.header("cache-control") == "no-store")
            let token = try #require(answer.json?["access_token"]?.stringValue)

            let observations = try await server.request("GET", "/fhir/Observation?_count=10", token: token)
            #expect(observations.status == 200 && observations.entries.count == 2, "both patients: \(observations.text.prefix(300))")
            let patients = try await server.request("GET", "/fhir/Patient", token: token)
            #expect(patients.status == 403 && patients.issueCode == "forbidden", "Patient was registered but not granted: \(patients.text)")
            let create = try await server.request("POST", "/fhir/Observation", token: token, json: server.weight(81, patientID: try #require(first.patientID)))
            #expect(create.status == 403, "create was not asked for")
            let flags = try await server.request("GET", "/fhir/Flag", token: token)
            #expect(flags.status == 403)

            let writer = try await server.systemToken(emr, clientID: clientID, scope: "system/Observation.c")
            let created = try await server.request("POST", "/fhir/Observation", token: writer, json: server.weight(82, patientID: try #require(second.patientID)))
            #expect(created.status == 201, "\(created.text)")
            let nobody = try await server.request("POST", "/fhir/Observation", token: writer, json: server.weight(82, patientID: "no-such-patient"))
            #expect(nobody.status == 404, "an Observation for a patient who does not exist is refused")
            #expect(try await server.request("GET", "/fhir/Observation", token: writer).status == 403, "c gives no search")

            let events = try await server.store.read { db in try db.auditEvents(after: 0, limit: 10_000) }.map(\.event)
            #expect(events.contains { $0.actorID == clientID && $0.actorRole == "system" && $0.action == "token" })
            #expect(events.contains { $0.actorID == clientID && $0.actorRole == "system" && $0.action == "create" && $0.patientID == second.patientID })
        }
    }

    @Test("refused as OAuth says: a wrong key, aud, exp, replayed jti, unknown or disabled client, unregistered scope, other grant type or algorithm", arguments: StoreBackend.allCases)
    func refusals(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let emr = TestEMR()
            let clientID = try await server.register(emr, scopes: "system/Observation.rs")
            let now = server.clock.now()
            func ask(_ assertion: String, scope: String = "system/Observation.rs", grantType: String = "client_credentials") async throws -> (Int, String) {
                let answer = try await server.requestToken(TestEMR.form(assertion: assertion, scope: scope, grantType: grantType))
                return (answer.status, answer.json?["error"]?.stringValue ?? answer.text)
            }
            let impostor = TestEMR()
            #expect(try await ask(try await impostor.assertion(clientID: clientID, audience: server.tokenURL, now: now)) == (401, "invalid_client"))
            #expect(try await ask(try await emr.assertion(clientID: clientID, audience: "https://elsewhere.example/token", now: now)) == (401, "invalid_client"))
            #expect(try await ask(try await emr.assertion(clientID: clientID, audience: server.tokenURL, now: now, lifetime: 600)) == (400, "invalid_grant"))
            #expect(try await ask(try await emr.assertion(clientID: clientID, audience: server.tokenURL, now: now, lifetime: -10)) == (400, "invalid_grant"))
            #expect(try await ask(try await emr.assertion(clientID: "unknown-client", audience: server.tokenURL, now: now)) == (401, "invalid_client"))
            #expect(try await ask(try await emr.assertion(clientID: clientID, audience: server.tokenURL, now: now, kid: "other-kid")) == (401, "invalid_client"))
            let once = try await emr.assertion(clientID: clientID, audience: server.tokenURL, now: now, jti: "the-same-jti")
            #expect(try await ask(once).0 == 200)
            #expect(try await ask(try await emr.assertion(clientID: clientID, audience: server.tokenURL, now: now, jti: "the-same-jti")) == (400, "invalid_grant"))
            // Control characters in the jti or the client's name: refused before the store, alike on both backends
            // (PostgreSQL's text cannot hold U+0000).
            #expect(try await ask(try await emr.assertion(clientID: clientID, audience: server.tokenURL, now: now, jti: "a\u{0}b")) == (400, "invalid_grant"))
            #expect(try await ask(try await emr.assertion(clientID: clientID + "\u{0}", audience: server.tokenURL, now: now)) == (401, "invalid_client"))
            let fresh = { try await emr.assertion(clientID: clientID, audience: server.tokenURL, now: now) }
            #expect(try await ask(try await fresh(), scope: "system/Patient.rs") == (400, "invalid_scope"))
            #expect(try await ask(try await fresh(), grantType: "password") == (400, "unsupported_grant_type"))
            // An unsigned token (alg none) and an HMAC one, whatever their claims, are not assertions this server takes.
            let parts = try await fresh().split(separator: ".")
            let none = Data(#"{"alg":"none","kid":"emr-key-1"}"#.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
            #expect(try await ask("\(none).\(parts[1]).") == (401, "invalid_client"))
            let hmac = Data(#"{"alg":"HS384","kid":"emr-key-1"}"#.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
            #expect(try await ask("\(hmac).\(parts[1]).\(parts[2])") == (401, "invalid_client"))
            #expect(try await ask("not-a-jwt") == (401, "invalid_client"))
            let missing = try await server.requestToken(Array("grant_type=client_credentials".utf8))
            #expect(missing.status == 400 && missing.json?["error"]?.stringValue == "invalid_request")
            let json = try await server.request("POST", "/auth/token", json: ["grant_type": "client_credentials"])
            #expect(json.status == 400 && json.json?["error"]?.stringValue == "invalid_request", "a JSON body is not a form")

            let token = try await server.systemToken(emr, clientID: clientID, scope: "system/Observation.rs")
            #expect(try await server.request("GET", "/fhir/Observation", token: token).status == 200)
            try await server.administration.setClientDisabled(true, clientID: clientID)
            #expect(try await server.request("GET", "/fhir/Observation", token: token).status == 401, "disabling ends its tokens")
            #expect(try await ask(try await fresh()) == (401, "invalid_client"))
            try await server.administration.setClientDisabled(false, clientID: clientID)
            let later = try await server.systemToken(emr, clientID: clientID, scope: "system/Observation.rs")
            server.clock.advance(seconds: 301)
            #expect(try await server.request("GET", "/fhir/Observation", token: later).status == 401, "a token lasts five minutes")
        }
    }

    @Test("client add refuses a JWKS with a private part, a short RSA key, an unknown key type, and scopes that are not system scopes", arguments: StoreBackend.allCases)
    func registration(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let emr = TestEMR()
            let withPrivate = emr.jwks.replacingOccurrences(of: #""use":"sig""#, with: #""use":"sig","d":"AAAA""#)
            let shortRSA = #"{"keys":[{"kty":"RSA","kid":"r","n":"\#(String(repeating: "A", count: 171))","e":"AQAB"}]}"#
            let hmac = #"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}"#
            for (jwks, scopes) in [(withPrivate, "system/Observation.rs"), (shortRSA, "system/Observation.rs"), (hmac, "system/Observation.rs"),
                (emr.jwks, "patient/Observation.rs"), (emr.jwks, ""), ("{}", "system/Observation.rs"), ("not json", "system/Observation.rs")]
            {
                await #expect(throws: AdministrationError.self, "\(jwks.prefix(40)) \(scopes)") {
                    _ = try await server.administration.addClient(name: "EMR", jwks: jwks, scopes: scopes)
                }
            }
            let registered = try await server.administration.clients()
            #expect(registered.isEmpty)
        }
    }
}
