import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

@Suite("Login over real TLS")
struct LoginTests {
    @Test("password, then the e-mailed code, gives a session with role and patient", arguments: StoreBackend.allCases)
    func loginWithMailedCode(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let account = try await server.addPatient("anna@example.org")
            let first = try await server.startLogin("ANNA@example.org ")
            #expect(first.status == 202)
            #expect(first.json?["expiresIn"]?.intValue == 600)
            let code = try server.latestCode(for: "anna@example.org")
            #expect(code.count == 6 && code.allSatisfy(\.isNumber))
            let challenge = try #require(first.json?["challenge"]?.stringValue)
            let second = try await server.request("POST", "/auth/otp", json: ["challenge": .string(challenge), "code": .string(code)])
            #expect(second.status == 200)
            #expect(second.json?["role"]?.stringValue == "patient")
            #expect(second.json?["patient"]?.stringValue == account.patientID)
            #expect(second.json?["idleTimeout"]?.intValue == 1800)
            let token = try #require(second.json?["accessToken"]?.stringValue)
            #expect(Data(base64Encoded: token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "=")?.count == 32)
            let me = try await server.request("GET", "/fhir/Patient/\(account.patientID ?? "")", token: token)
            #expect(me.status == 200)
            // The code is single use.
            let again = try await server.request("POST", "/auth/otp", json: ["challenge": .string(challenge), "code": .string(code)])
            #expect(again.status == 401)
        }
    }

    @Test("unknown user and wrong password get the same answer", arguments: StoreBackend.allCases)
    func unknownAndWrongAreAlike(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.addPatient("bert@example.org")
            let wrong = try await server.startLogin("bert@example.org", password: "not-the-password-1")
            let unknown = try await server.startLogin("nobody@example.org", password: "not-the-password-1")
            #expect(wrong.status == 401)
            #expect(unknown.status == 401)
            #expect(wrong.json?["issue"] == unknown.json?["issue"])
        }
    }

    @Test("five failures lock the account for 15 minutes, then it opens again", arguments: StoreBackend.allCases)
    func lockout(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.addPatient("carla@example.org")
            for attempt in 1...5 {
                let answer = try await server.startLogin("carla@example.org", password: "wrong-password-\(attempt)")
                #expect(answer.status == (attempt < 5 ? 401 : 423))
            }
            let locked = try await server.startLogin("carla@example.org")
            #expect(locked.status == 423)
            #expect(locked.issueCode == "lock-error")
            let retryAfter = try #require(locked.header("retry-after").flatMap(Int.init))
            #expect(retryAfter > 0 && retryAfter <= 900)
            server.clock.advance(minutes: 14)
            #expect(try await server.startLogin("carla@example.org").status == 423)
            server.clock.advance(minutes: 2)
            #expect(try await server.startLogin("carla@example.org").status == 202)
        }
    }

    @Test("unknown names lock too, so locking reveals nothing", arguments: StoreBackend.allCases)
    func unknownNamesLock(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            for _ in 1...5 { _ = try await server.startLogin("ghost@example.org", password: "whatever-1234") }
            #expect(try await server.startLogin("ghost@example.org", password: "whatever-1234").status == 423)
        }
    }

    @Test("a code allows three tries, wrong codes count towards the lock, and codes expire after 10 minutes", arguments: StoreBackend.allCases)
    func codeTriesAndExpiry(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.addPatient("dirk@example.org")
            let first = try await server.startLogin("dirk@example.org")
            let challenge = try #require(first.json?["challenge"]?.stringValue)
            let code = try server.latestCode(for: "dirk@example.org")
            let wrong = code == "000000" ? "111111" : "000000"
            for attempt in 1...3 {
                let answer = try await server.request("POST", "/auth/otp", json: ["challenge": .string(challenge), "code": .string(wrong)])
                #expect(answer.status == 401)
                // The stable code tells a client whether the code may be typed again (login) or a new one is needed (expired).
                #expect(answer.issueCode == (attempt < 3 ? "login" : "expired"))
            }
            let late = try await server.request("POST", "/auth/otp", json: ["challenge": .string(challenge), "code": .string(code)])
            #expect(late.status == 401, "after three wrong codes the right one must not work")
            #expect(late.issueCode == "expired")

            let second = try await server.startLogin("dirk@example.org")
            let challenge2 = try #require(second.json?["challenge"]?.stringValue)
            let code2 = try server.latestCode(for: "dirk@example.org")
            server.clock.advance(minutes: 11)
            let expired = try await server.request("POST", "/auth/otp", json: ["challenge": .string(challenge2), "code": .string(code2)])
            #expect(expired.status == 401)
            #expect(expired.issueCode == "expired")
        }
    }

    @Test("tokens die after 30 idle minutes, after 12 hours in all, and at logout", arguments: StoreBackend.allCases)
    func tokenLifetimes(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let account = try await server.addPatient("eva@example.org")
            let path = "/fhir/Patient/\(account.patientID ?? "")"

            let idle = try await server.login("eva@example.org").token
            server.clock.advance(minutes: 29)
            #expect(try await server.request("GET", path, token: idle).status == 200)
            server.clock.advance(minutes: 31)
            let expired = try await server.request("GET", path, token: idle)
            #expect(expired.status == 401)
            #expect(expired.header("www-authenticate")?.hasPrefix("Bearer") == true)

            let busy = try await server.login("eva@example.org").token
            for _ in 0..<((12 * 60) / 20 - 1) {
                server.clock.advance(minutes: 20)
                #expect(try await server.request("GET", path, token: busy).status == 200)
            }
            server.clock.advance(minutes: 21)
            #expect(try await server.request("GET", path, token: busy).status == 401)

            let token = try await server.login("eva@example.org").token
            #expect(try await server.request("POST", "/auth/logout", token: token).status == 204)
            #expect(try await server.request("GET", path, token: token).status == 401)
            #expect(try await server.request("GET", path, token: "made-up-token").status == 401)
            #expect(try await server.request("GET", path).status == 401)
        }
    }
}
