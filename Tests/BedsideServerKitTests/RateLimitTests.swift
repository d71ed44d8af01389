import BedsideCore
import BedsideSync
import Foundation
import Testing

@testable import BedsideServerKit

@Suite("Rate limiting over real TLS")
struct RateLimitTests {
    @Test("N requests per session pass, the next gets 429 with Retry-After, and it passes again once the window moves on")
    func perSessionBudget() async throws {
        try await withServer(rateLimit: RateLimit(requests: 5, windowSeconds: 60)) { server in
            let a = try await server.addPatient("busy@example.org")
            try await server.addPatient("calm@example.org")
            let aID = try #require(a.patientID)
            // Two logins: four requests from this address (login, otp each), one short of its budget.
            let busy = try await server.login("busy@example.org").token
            let calm = try await server.login("calm@example.org").token

            for index in 1...5 {
                let answer = try await server.request("GET", "/fhir/Patient/\(aID)", token: busy)
                #expect(answer.status == 200, "request \(index) of 5")
            }
            let refused = try await server.request("GET", "/fhir/Patient/\(aID)", token: busy)
            #expect(refused.status == 429)
            #expect(refused.header("retry-after") == "60")
            #expect(refused.issueCode == "throttled")
            #expect(refused.json?["issue"]?.arrayValue?.first?["diagnostics"]?.stringValue == "Too many requests in a short time. Try again in 60 seconds.")

            // Another session has a budget of its own.
            #expect(try await server.request("GET", "/fhir/metadata", token: calm).status == 200)

            // Before login the address is what counts, and a made-up token buys no fresh budget there.
            #expect(try await server.startLogin("nobody@example.org").status == 401)
            let guessing = try await server.request(
                "POST", "/auth/login", json: ["username": "nobody@example.org", "password": "another-guess-12"],
                headers: [("Authorization", "Bearer made-up-token")])
            #expect(guessing.status == 429)
            #expect(guessing.issueCode == "throttled")

            // Retry-After counts down with the clock, in whole seconds.
            server.clock.advance(seconds: 20)
            let still = try await server.request("GET", "/fhir/Patient/\(aID)", token: busy)
            #expect(still.status == 429)
            #expect(still.header("retry-after") == "40")

            server.clock.advance(seconds: 41)
            #expect(try await server.request("GET", "/fhir/Patient/\(aID)", token: busy).status == 200)
            #expect(try await server.startLogin("nobody@example.org").status == 401)

            // Each flood is on the record once, with who (address) and what, and no body.
            await server.running.flushAudit()
            let throttled = try await server.store.read { db in try db.auditEvents(after: 0, limit: 1000) }.map(\.event)
                .filter { $0.action == "throttled" }
            #expect(throttled.count == 2)
            #expect(throttled.allSatisfy { $0.httpStatus == 429 && $0.outcome == "failure" && $0.remoteAddress == "127.0.0.1" })
            #expect(Set(throttled.compactMap(\.request)) == ["GET /fhir/Patient/\(aID)", "POST /auth/login"])
        }
    }

    @Test("without a rate limit (the library's default) nothing is throttled")
    func offByDefault() async throws {
        #expect(ServerConfiguration(dataDirectory: URL(fileURLWithPath: "/nonexistent")).rateLimit == nil)
        try await withServer { server in
            var statuses: Set<Int> = []
            for _ in 1...40 {
                statuses.insert(try await server.request("GET", "/fhir/metadata").status)
            }
            #expect(statuses == [200])
        }
    }

    @Test("the limiter counts a sliding window exactly and forgets idle keys")
    func slidingWindow() {
        let clock = ManualClock(epochMilliseconds: 1_000_000)
        let limiter = RateLimiter(limit: RateLimit(requests: 3, windowSeconds: 60), clock: clock)
        #expect(limiter.check("a") == .allowed)
        clock.advance(seconds: 30)
        #expect(limiter.check("a") == .allowed)
        #expect(limiter.check("a") == .allowed)
        #expect(limiter.check("a") == .throttled(retryAfterSeconds: 30, firstRefusal: true))
        #expect(limiter.check("a") == .throttled(retryAfterSeconds: 30, firstRefusal: false))
        #expect(limiter.check("b") == .allowed)
        clock.advance(milliseconds: 29_500)
        #expect(limiter.check("a") == .throttled(retryAfterSeconds: 1, firstRefusal: false), "half a second is rounded up")
        clock.advance(milliseconds: 500)
        // The first request has left the window; the two from 30 s ago have not.
        #expect(limiter.check("a") == .allowed)
        #expect(limiter.check("a") == .throttled(retryAfterSeconds: 30, firstRefusal: true))
        clock.advance(minutes: 5)
        #expect(limiter.check("c") == .allowed)
        #expect(limiter.trackedKeys == 1)
        #expect(RateLimiter(limit: RateLimit(requests: 0), clock: clock).check("a") == .allowed, "a zero budget means off")
    }

    @Test("bedside-server serve --rate-limit N answers 429 after N requests a minute; a negative N is a usage error")
    func commandLine() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-rate-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let negative = try await ServerExecutable.run(["serve", "--dev-tls", "--data-dir", data, "--rate-limit=-1"])
        #expect(negative.status != 0)
        #expect(negative.error.contains("--rate-limit must be 0 (off)"))

        let server = try await ServedDirectory(data, arguments: ["--rate-limit", "3"])
        defer { server.stop() }
        var statuses: [Int] = []
        var retryAfter: String?
        for _ in 1...4 {
            let answer = try await server.transport.send(HTTPRequestSpec(method: "GET", url: server.base + "/fhir/metadata"))
            statuses.append(answer.status)
            retryAfter = answer.header("retry-after")
        }
        #expect(statuses == [200, 200, 200, 429])
        let seconds = try #require(retryAfter.flatMap(Int.init))
        #expect((1...60).contains(seconds))
    }
}
