import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

/// Issue 13's login findings: the lockout cannot be raced, hashing is bounded, failures decay, budgets
/// are on by default, and an account can be disabled.
@Suite("Login hardening over real TLS")
struct LoginHardeningTests {
    /// Budgets off, so that what is measured is the lock itself.
    static func withoutBudgets(_ configuration: inout ServerConfiguration) {
        configuration.authPolicy.loginsPerAddress = RateLimit(requests: 0)
        configuration.authPolicy.loginsPerAccount = RateLimit(requests: 0)
        configuration.authPolicy.passwordCheckQueue = 200
        configuration.connectionLimits.connectionsPerAddress = 1000
        configuration.unknownCallerRateLimit = RateLimit(requests: 0)
    }

    @Test("100 wrong passwords at once: at most 5 are checked; the others are told the account is locked (423) or to come back in a moment (429)", arguments: StoreBackend.allCases)
    func lockoutCannotBeRaced(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend, configure: Self.withoutBudgets) { server in
            try await server.addPatient("race@example.org")
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for attempt in 0..<100 {
                    group.addTask { try await server.startLoginInParallel("race@example.org", password: "wrong-password-\(attempt)").status }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 401 }.count <= 5)
            #expect(statuses.filter { $0 == 401 || $0 == 423 || $0 == 429 }.count == 100, "\(Set(statuses))")
            await server.running.flushAudit()
            let checked = try await server.store.read { db in try db.auditEvents(after: 0, limit: 10_000) }
                .filter { $0.event.action == "login-failure" }.count
            #expect(checked == 5, "exactly five passwords were hashed and found wrong")
            #expect(try await server.startLogin("race@example.org").status == 423)
        }
    }

    @Test("a right code while wrong passwords are still being checked does not give back their tries: a burst right after gets one check (the fifth, which locks), not five", arguments: StoreBackend.allCases)
    func rightCodeKeepsHeldTries(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend, configure: { configuration in
            Self.withoutBudgets(&configuration)
            configuration.authPolicy.passwordCheckWorkers = 1
            // Slow enough (about a second a check in a debug build) that the wrong ones are surely still running when the code is sent.
            configuration.hasher = PasswordHasher(logRounds: 16, blockSize: 8, parallelism: 1)
        }) { server in
            try await server.addPatient("held@example.org")
            // The right password first: the hash is brought up to the slow parameters and a code is mailed.
            let first = try await server.startLogin("held@example.org")
            let challenge = try #require(first.json?["challenge"]?.stringValue)
            @Sendable func burst(_ count: Int, tag: String) async throws -> [Int] {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for attempt in 0..<count {
                        group.addTask { try await server.startLoginInParallel("held@example.org", password: "wrong-\(tag)-\(attempt)").status }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
            }
            let running = Task { try await burst(4, tag: "running") }
            let key = "login:" + Secrets.sha256Hex("held@example.org")
            var held = 0
            for _ in 0..<2_000 where held < 4 {
                held = try await server.store.read { db in try db.throttle(key: key).map { $0.failures + $0.checking } ?? 0 }
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(held == 4, "all four wrong passwords hold their try (or have failed)")
            let code = try await server.request(
                "POST", "/auth/otp", json: ["challenge": .string(challenge), "code": .string(try server.latestCode(for: "held@example.org"))])
            #expect(code.status == 200)
            let after = try await burst(10, tag: "after")
            let statuses = try await running.value + after
            #expect(statuses.allSatisfy { [401, 423, 429].contains($0) }, "\(statuses)")
            await server.running.flushAudit()
            let actions = try await server.store.read { db in try db.auditEvents(after: 0, limit: 10_000) }.map(\.event.action)
            // A check that had already ended when the code came is a failure the right code forgives; on a
            // busy machine one may. Every other try stays held: five checks after the forgiven ones, no more.
            let forgiven = actions.prefix { $0 != "login" }.filter { $0 == "login-failure" }.count
            let checked = actions.filter { $0 == "login-failure" }.count
            #expect(checked == 5 + forgiven, "\(actions)")
            #expect(try await server.startLogin("held@example.org", password: "wrong-password-last").status == 423)
        }
    }

    @Test("tries held by a check that never reported back (a server stopped mid-check) are given back after a minute; failures stay")
    func staleHeldTries() {
        let policy = AuthPolicy()
        let throttle = LoginThrottle(key: "k", failures: 2, checking: 3, updatedAt: 0)
        #expect(throttle.decayed(at: policy.checkHold, policy: policy).checking == 3)
        #expect(throttle.decayed(at: policy.checkHold + 1, policy: policy).checking == 0)
        #expect(throttle.decayed(at: policy.checkHold + 1, policy: policy).failures == 2)
    }

    @Test("failures are forgotten after 15 quiet minutes: 4 + 4 wrong passwords do not lock", arguments: StoreBackend.allCases)
    func failuresDecay(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.addPatient("decay@example.org")
            for attempt in 1...4 { #expect(try await server.startLogin("decay@example.org", password: "wrong-\(attempt)-password").status == 401) }
            server.clock.advance(minutes: 16)
            for attempt in 1...4 { #expect(try await server.startLogin("decay@example.org", password: "wrong-\(attempt)-again").status == 401) }
            #expect(try await server.startLogin("decay@example.org").status == 202)
        }
    }

    @Test("with one hashing worker and no queue, a burst is answered 503 with Retry-After, and the server still logs people in", arguments: StoreBackend.allCases)
    func hashingIsBounded(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend, configure: { configuration in
            Self.withoutBudgets(&configuration)
            configuration.authPolicy.passwordCheckWorkers = 1
            configuration.authPolicy.passwordCheckQueue = 0
            configuration.hasher = PasswordHasher(logRounds: 15, blockSize: 8, parallelism: 1)
        }) { server in
            let answers = try await withThrowingTaskGroup(of: HTTPResponseData.self) { group in
                for index in 0..<8 {
                    group.addTask { try await server.startLoginInParallel("nobody\(index)@example.org", password: "whatever-password-1") }
                }
                return try await group.reduce(into: [HTTPResponseData]()) { $0.append($1) }
            }
            let busy = answers.filter { $0.status == 503 }
            #expect(!busy.isEmpty)
            #expect(busy.allSatisfy { $0.header("retry-after") != nil && $0.issueCode == "transient" })
            #expect(answers.allSatisfy { $0.status == 503 || $0.status == 401 })
            try await server.addPatient("after@example.org")
            #expect(try await server.startLogin("after@example.org").status == 202)
        }
    }

    @Test("on by default: 31 password checks from one address in a minute meet 429; 11 at one name too", arguments: StoreBackend.allCases)
    func budgetsByDefault(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            var statuses: [Int] = []
            for index in 0..<31 { statuses.append(try await server.startLogin("spray\(index)@example.org", password: "spring-2026-pass").status) }
            #expect(statuses.prefix(30).allSatisfy { $0 == 401 })
            #expect(statuses.last == 429)
            server.clock.advance(minutes: 2)
            // One name from one address: the name's own budget (10 a minute) ends it first.
            try await server.addPatient("name@example.org")
            var byName: [Int] = []
            for _ in 0..<11 { byName.append(try await server.startLogin("name@example.org").status) }
            #expect(byName.prefix(10).allSatisfy { $0 == 202 })
            #expect(byName.last == 429)
            let throttled = try await server.startLogin("name@example.org")
            #expect(throttled.header("retry-after").flatMap(Int.init).map { $0 > 0 && $0 <= 60 } == true)
        }
    }

    @Test("housekeeping deletes throttle rows of names that stopped failing a day ago", arguments: StoreBackend.allCases)
    func throttleRowsArePurged(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            for index in 0..<5 { _ = try await server.startLogin("invented\(index)@example.org", password: "whatever-password-1") }
            let rows = try await server.store.read { db in
                try (0..<5).compactMap { try db.throttle(key: "login:" + Secrets.sha256Hex("invented\($0)@example.org")) }
            }
            #expect(rows.count == 5)
            server.clock.advance(minutes: 25 * 60)
            try await server.store.write { db in try db.purgeExpired(before: server.clock.now()) }
            let left = try await server.store.read { db in
                try (0..<5).compactMap { try db.throttle(key: "login:" + Secrets.sha256Hex("invented\($0)@example.org")) }
            }
            #expect(left.isEmpty)
        }
    }
}

@Suite("Accounts and care teams can be taken back")
struct AccountControlTests {
    @Test("a disabled account cannot log in (401, as a wrong password) and its open session ends; enabled, it logs in again", arguments: StoreBackend.allCases)
    func disableAndEnable(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patientID = try #require(try await server.addPatient("off@example.org").patientID)
            let token = try await server.login("off@example.org").token
            try await server.administration.setDisabled(true, email: "off@example.org")
            #expect(try await server.request("GET", "/fhir/Patient/\(patientID)", token: token).status == 401)
            let refused = try await server.startLogin("off@example.org")
            #expect(refused.status == 401)
            #expect(refused.json?["issue"] == (try await server.startLogin("off@example.org", password: "wrong-password-1")).json?["issue"])
            try await server.administration.setDisabled(false, email: "off@example.org")
            #expect(try await server.startLogin("off@example.org").status == 202)
        }
    }

    @Test("a clinician taken out of a care team sees nothing of the patient from the next request on", arguments: StoreBackend.allCases)
    func teamRemove(_ backend: StoreBackend) async throws {
        try await withServer(backend: backend) { server in
            let patientID = try #require(try await server.addPatient("kept@example.org").patientID)
            try await server.addClinician("leaving@example.org")
            try await server.administration.addTeamMember(clinicianEmail: "leaving@example.org", patientEmail: "kept@example.org", responsible: true)
            let nurse = try await server.login("leaving@example.org").token
            #expect(try await server.request("GET", "/fhir/Patient/\(patientID)", token: nurse).status == 200)
            try await server.administration.removeTeamMember(clinicianEmail: "leaving@example.org", patientEmail: "kept@example.org")
            #expect(try await server.request("GET", "/fhir/Patient/\(patientID)", token: nurse).status == 404)
            let patient = try await server.store.read { db in try db.resource(type: "Patient", id: patientID) }
            #expect(patient.map { String(decoding: $0.json, as: UTF8.self).contains("generalPractitioner") } == false)
            await #expect(throws: AdministrationError.self) {
                try await server.administration.removeTeamMember(clinicianEmail: "leaving@example.org", patientEmail: "kept@example.org")
            }
        }
    }
}
