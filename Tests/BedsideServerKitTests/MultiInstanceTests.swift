import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import Synchronization
import Testing

@testable import BedsideServerKit

/// Two real `bedside-server serve` processes on one PostgreSQL database, each with its own data
/// directory (TLS, mail) and the same master key: to a client they are one server.
@Suite("Several instances as one server (PostgreSQL)", .serialized)
struct MultiInstanceTests {
    static let password = "correct-horse-battery-9"

    @Test("a token from instance A works on B; what A wrote B reads; a logout on B ends the session on A; a wrong key is refused")
    func oneServer() async throws {
        let location = try await TestPostgres.shared.makeDatabase()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("multi-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let database = TestPostgres.url(for: location)
        let shared = ["--database", database, "--master-key-file", root + "/master.key"]
        let added = try await ServerExecutable.run(
            ["user", "add", "--role", "patient", "--email", "ann@example.org", "--name", "Ann", "--password-stdin", "--data-dir", root + "/a"] + shared,
            input: Self.password + "\n")
        #expect(added.status == 0, "\(added.error)")
        #expect(added.error.contains("made a new master key in \(root)/master.key"), "the new key is announced: \(added.error)")
        #expect(!FileManager.default.fileExists(atPath: root + "/a/bedside-server.sqlite"), "no database file beside PostgreSQL")

        let a = try await ServedDirectory(root + "/a", arguments: shared)
        let b = try await ServedDirectory(root + "/b", arguments: shared)
        defer {
            a.stop()
            b.stop()
        }
        let (token, patientID) = try await a.login(email: "ann@example.org", password: Self.password)
        #expect(try await b.send("GET", "/fhir/Patient/\(patientID)", token: token).status == 200)

        let weight = JSONValue.object([
            "resourceType": "Observation", "status": "final",
            "category": .array([.object(["coding": .array([.object([
                "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"])])])]),
            "code": .object(["coding": .array([.object(["system": "http://loinc.org", "code": "29463-7"])])]),
            "subject": .object(["reference": .string("Patient/\(patientID)")]),
            "effectiveDateTime": "2026-12-01T08:00:00Z",
            "valueQuantity": .object(["value": 81.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"]),
        ])
        let created = try await a.send("POST", "/fhir/Observation", token: token, json: weight)
        #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
        let found = try await b.send("GET", "/fhir/Observation?patient=\(patientID)", token: token)
        #expect(found.status == 200 && found.json?["entry"]?.arrayValue?.count == 1)

        #expect(try await b.send("POST", "/auth/logout", token: token).status == 204)
        #expect(try await a.send("GET", "/fhir/Patient/\(patientID)", token: token).status == 401, "the session ended everywhere")

        // BEDSIDE_DATABASE_URL does what --database does; SQLite-file commands refuse rather than work on a local file.
        var environment = ProcessInfo.processInfo.environment
        environment["BEDSIDE_DATABASE_URL"] = database
        let listed = try await ChildProcess.run(
            ServerExecutable.path, ["user", "list", "--data-dir", root + "/b", "--master-key-file", root + "/master.key"], environment: environment)
        #expect(listed.status == 0 && listed.outputText.contains("ann@example.org"), "\(listed.errors)")
        let backup = try await ServerExecutable.run(
            ["backup", "--data-dir", root + "/a", "--recipient", root + "/none.pub", "--output", root + "/b.backup"] + shared)
        #expect(backup.status != 0 && backup.error.contains("SQLite's file only"), "\(backup.error)")
        let badURL = try await ServerExecutable.run(["user", "list", "--data-dir", root + "/a", "--database", "postgresql://u@h/d?sslmod=disable"])
        #expect(badURL.status != 0 && badURL.error.contains("sslmod"), "\(badURL.error)")

        // An instance with another master key cannot open the shared data.
        let stranger = try await ServerExecutable.run(["user", "list", "--data-dir", root + "/c", "--database", database])
        #expect(stranger.status != 0 && stranger.error.contains("master key"), "\(stranger.error)")
        await TestPostgres.shared.dropDatabase(location)
    }

    /// Two `serve` processes on one new database, with one patient account (`email`, `Self.password`),
    /// nobody logged in yet.
    func withTwoServedInstances(patient email: String, _ body: (ServedDirectory, ServedDirectory) async throws -> Void) async throws {
        let location = try await TestPostgres.shared.makeDatabase()
        let (a, b, root) = try await Pair.serve(database: TestPostgres.url(for: location), patient: email)
        defer {
            a.stop()
            b.stop()
            try? FileManager.default.removeItem(atPath: root)
        }
        try await body(a, b)
        await TestPostgres.shared.dropDatabase(location)
    }

    @Test("3 wrong passwords on A and 2 on B lock the account on both")
    func lockoutAcrossInstances() async throws {
        try await withTwoServedInstances(patient: "bob@example.org") { a, b in
            func attempt(_ instance: ServedDirectory, _ password: String) async throws -> HTTPResponseData {
                try await instance.transport.send(HTTPRequestSpec(
                    method: "POST", url: instance.base + "/auth/login", headers: [("Content-Type", "application/json")],
                    body: JSONValue.object(["username": "bob@example.org", "password": .string(password)]).serialized()))
            }
            var statuses: [Int] = []
            for instance in [a, a, a, b, b] { statuses.append(try await attempt(instance, "wrong-horse-battery-1").status) }
            #expect(statuses.prefix(4).allSatisfy { $0 == 401 }, "\(statuses)")
            for instance in [a, b] {
                let locked = try await attempt(instance, Self.password)
                #expect(locked.status != 202, "locked on \(instance.base): \(locked.status)")
            }
        }
    }

    @Test("secret checks are budgeted across instances: 10 a minute at one name, 5 on A and 5 on B, then 429 on both")
    func loginBudgetAcrossInstances() async throws {
        try await withTwoServedInstances(patient: "carol@example.org") { a, b in
            // Enrolment codes: checked without a password hash, so ten of them take moments even on a
            // loaded machine (ten scrypt logins there took longer than the budget's minute). Carol was
            // never invited: each is refused, the fifth locks the name, and every one spends the budget.
            func enrol(_ instance: ServedDirectory) async throws -> HTTPResponseData {
                try await instance.transport.send(HTTPRequestSpec(
                    method: "POST", url: instance.base + "/auth/enrol", headers: [("Content-Type", "application/json")],
                    body: JSONValue.object(["username": "carol@example.org", "code": "12345678", "password": .string(Self.password)]).serialized()))
            }
            let started = ContinuousClock.now
            var statuses: [Int] = []
            for instance in [a, b, a, b, a, b, a, b, a, b] { statuses.append(try await enrol(instance).status) }
            #expect(statuses.allSatisfy { $0 == 401 || $0 == 423 } && statuses.contains(423), "\(statuses)")
            for instance in [a, b] {
                let over = try await enrol(instance)
                // (Unless the machine was so slow that the first checks left the minute.)
                if ContinuousClock.now - started < .seconds(55) {
                    #expect(over.status == 429 && over.header("Retry-After") != nil, "\(instance.base): \(over.status) \(over.text)")
                }
            }
        }
    }

    /// A value tasks share.
    final class Shared<Value: Sendable>: Sendable {
        let value: Mutex<Value>
        init(_ value: Value) { self.value = Mutex(value) }
    }

    // MARK: Readings sent to both, resent, and sent through a database restart

    /// A pulse-oximetry reading with the identifier that makes uploads idempotent; 85 % breaks the
    /// default programme's red threshold (one alert).
    static func reading(_ clientID: String, patientID: String, saturation: Double = 97) -> JSONValue {
        ObservationBuilder.observation(
            kind: .oxygenSaturation, values: [.init(part: .oxygenSaturation, value: saturation)],
            effective: FHIRDateTime.format(epochMilliseconds: Int64(Date().timeIntervalSince1970 * 1000), utcOffsetSeconds: 0),
            patientID: patientID, clientID: clientID)
    }

    /// A patient on two instances sharing `database` (or the shared test cluster's new database).
    struct Pair {
        let a: ServedDirectory
        let b: ServedDirectory
        let token: String
        let patientID: String
        let root: String

        static func start(database: String) async throws -> Pair {
            let (a, b, root) = try await serve(database: database, patient: "sat@example.org")
            let (token, patientID) = try await a.login(email: "sat@example.org", password: MultiInstanceTests.password)
            return Pair(a: a, b: b, token: token, patientID: patientID, root: root)
        }

        /// Two `serve` processes on `database`, and a patient account (`email`, the test password) made
        /// through the first one's data directory; both under a new directory, `root`.
        static func serve(database: String, patient email: String) async throws -> (a: ServedDirectory, b: ServedDirectory, root: String) {
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("multi-\(UUID().uuidString)").path
            let shared = ["--database", database, "--master-key-file", root + "/master.key"]
            let added = try await ServerExecutable.run(
                ["user", "add", "--role", "patient", "--email", email, "--name", "Pat", "--password-stdin", "--data-dir", root + "/a"] + shared,
                input: MultiInstanceTests.password + "\n")
            guard added.status == 0 else { throw TestFailure("user add: \(added.error)") }
            let a = try await ServedDirectory(root + "/a", arguments: shared)
            let b = try await ServedDirectory(root + "/b", arguments: shared)
            return (a, b, root)
        }

        func stop() {
            a.stop()
            b.stop()
            try? FileManager.default.removeItem(atPath: root)
        }

        /// The patient's Observations, each identifier with how often it is stored.
        func storedIdentifiers(through instance: ServedDirectory) async throws -> [String: Int] {
            var counts: [String: Int] = [:]
            var next: String? = "/fhir/Observation?patient=\(patientID)&_count=500"
            while let path = next {
                let page = try await instance.send("GET", path, token: token)
                guard page.status == 200 else { throw TestFailure("search: \(page.status) \(page.text)") }
                for entry in page.entries {
                    let identifier = entry["resource"]?["identifier"]?.arrayValue?.first?["value"]?.stringValue ?? "none"
                    counts[identifier, default: 0] += 1
                }
                next = page.json?["link"]?.arrayValue?.first { $0["relation"]?.stringValue == "next" }?["url"]?.stringValue
                    .flatMap { URL(string: $0) }.map { $0.path + ($0.query.map { "?" + $0 } ?? "") }
            }
            return counts
        }
    }

    @Test("the same reading sent 8 times at once, half to each instance: one Observation, one open alert")
    func sameReadingEightTimes() async throws {
        let location = try await TestPostgres.shared.makeDatabase()
        let pair = try await Pair.start(database: TestPostgres.url(for: location))
        defer { pair.stop() }
        let bundle = TestServer.transaction([Self.reading(UUID().uuidString.lowercased(), patientID: pair.patientID, saturation: 85)])
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<8 {
                let instance = index % 2 == 0 ? pair.a : pair.b
                group.addTask { try await instance.send("POST", "/fhir", token: pair.token, json: bundle).status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 8), "\(statuses)")
        let stored = try await pair.storedIdentifiers(through: pair.b)
        #expect(stored.count == 1 && stored.values.allSatisfy { $0 == 1 }, "\(stored)")
        for instance in [pair.a, pair.b] {
            let flags = try await instance.send("GET", "/fhir/Flag?patient=\(pair.patientID)&status=active", token: pair.token)
            #expect(flags.status == 200 && flags.entries.count == 1, "\(flags.status) \(flags.entries.count) open alerts")
        }
        await TestPostgres.shared.dropDatabase(location)
    }

    @Test("a Bundle mixing resent and new readings: the resent answered 200 with the stored ones' ids, the new 201, each stored once")
    func resentAmongNew() async throws {
        let location = try await TestPostgres.shared.makeDatabase()
        let pair = try await Pair.start(database: TestPostgres.url(for: location))
        defer { pair.stop() }
        let readings = (1...4).map { _ in Self.reading(UUID().uuidString.lowercased(), patientID: pair.patientID) }
        func send(_ indices: [Int]) async throws -> [(status: String, location: String)] {
            let answer = try await pair.a.send("POST", "/fhir", token: pair.token, json: TestServer.transaction(indices.map { readings[$0] }))
            guard answer.status == 200 else { throw TestFailure("transaction: \(answer.status) \(answer.text)") }
            return answer.entries.map { ($0["response"]?["status"]?.stringValue ?? "", $0["response"]?["location"]?.stringValue ?? "") }
        }
        let first = try await send([0, 1])
        let second = try await send([1, 2, 0, 3])
        #expect(first.map(\.status) == ["201 Created", "201 Created"])
        #expect(second.map(\.status) == ["200 OK", "201 Created", "200 OK", "201 Created"])
        #expect(second[0].location == first[1].location && second[2].location == first[0].location)
        let stored = try await pair.storedIdentifiers(through: pair.b)
        #expect(stored.count == 4 && stored.values.allSatisfy { $0 == 1 }, "\(stored)")
        await TestPostgres.shared.dropDatabase(location)
    }

    @Test("U+0000 in a resource or a search: an OperationOutcome on PostgreSQL too, not a 500")
    func nulRefused() async throws {
        let location = try await TestPostgres.shared.makeDatabase()
        let pair = try await Pair.start(database: TestPostgres.url(for: location))
        defer { pair.stop() }
        try await HardeningTests.expectNulRefused(patientID: pair.patientID, reading: Self.reading("x", patientID: pair.patientID)) { method, path, json in
            try await pair.a.send(method, path, token: pair.token, json: json)
        }
        await TestPostgres.shared.dropDatabase(location)
    }

    /// 30 transactions of 10 readings each, identifiers fixed so they can be sent again.
    static func stream(patientID: String) -> [JSONValue] {
        (0..<30).map { batch in
            TestServer.transaction((0..<10).map { item in
                reading(String(format: "00000000-0000-4000-8000-%06d%06d", batch, item), patientID: patientID)
            })
        }
    }

    @Test("instance A killed with SIGKILL in the middle of a stream of transactions, everything resent to B: every reading exactly once")
    func killedMidStream() async throws {
        let location = try await TestPostgres.shared.makeDatabase()
        let pair = try await Pair.start(database: TestPostgres.url(for: location))
        defer { pair.stop() }
        let stream = Self.stream(patientID: pair.patientID)
        // Four senders to A; A dies when ten transactions have been acknowledged, others in flight.
        let acknowledged = Shared(0)
        let a = pair.a
        let token = pair.token
        await withTaskGroup(of: Void.self) { group in
            for sender in 0..<4 {
                group.addTask {
                    for index in stride(from: sender, to: stream.count, by: 4) {
                        guard let answer = try? await a.send("POST", "/fhir", token: token, json: stream[index]), answer.status == 200 else { return }
                        if acknowledged.value.withLock({ count in count += 1; return count }) == 10 { await offPool { a.kill() } }
                    }
                }
            }
        }
        let sentToA = acknowledged.value.withLock { $0 }
        #expect(sentToA >= 10 && sentToA < stream.count, "\(sentToA) of \(stream.count) acknowledged by A before it died")
        for bundle in stream {
            let answer = try await pair.b.send("POST", "/fhir", token: pair.token, json: bundle)
            #expect(answer.status == 200, "\(answer.text)")
        }
        let stored = try await pair.storedIdentifiers(through: pair.b)
        #expect(stored.count == 300, "\(stored.count) distinct readings")
        #expect(stored.values.allSatisfy { $0 == 1 }, "a reading stored twice: \(stored.filter { $0.value > 1 })")
        await TestPostgres.shared.dropDatabase(location)
    }

    @Test("PostgreSQL stopped and started again under load: 503 with Retry-After meanwhile, within seconds, then every reading exactly once")
    func databaseRestartedUnderLoad() async throws {
        let cluster = try await PrivateTestCluster.start()
        // A short connect deadline, so a request finds the database away within two seconds.
        let pair = try await Pair.start(database: cluster.url + "&connect_timeout=2")
        defer { pair.stop() }
        let stream = Self.stream(patientID: pair.patientID)
        let answers = Shared<[Answer]>([])
        let (a, b, token) = (pair.a, pair.b, pair.token)
        // Bounded throughout: an instance that stops answering fails the test within a minute or two,
        // with both instances' last log lines, instead of holding the whole run for hours.
        let giveUp = ContinuousClock.now + .seconds(180)
        let sending = Task {
            for (index, bundle) in stream.enumerated() {
                // Sent until acknowledged, to A and B in turn, as the app's sync engine would after a 503.
                for attempt in 0..<120 {
                    let answer = await Answer(to: bundle, from: (index + attempt) % 2 == 0 ? a : b, token: token)
                    answers.value.withLock { $0.append(answer) }
                    if answer.status == 200 { break }
                    guard answer.seconds < 10, ContinuousClock.now < giveUp else { return }
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
        }
        defer { sending.cancel() }
        func failure(_ what: String) -> TestFailure {
            TestFailure("\(what). Answers: \(answers.value.withLock { $0.suffix(8) })\nA's last lines:\n\(a.output.lastLines(20))\nB's last lines:\n\(b.output.lastLines(20))")
        }
        while answers.value.withLock({ $0.count }) < 5 {
            guard ContinuousClock.now < giveUp else { throw failure("no 5 answers in time") }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await cluster.pause()
        // While the database is away, each instance answers (whatever the stream happens to be doing).
        let probe = TestServer.transaction([Self.reading("00000000-0000-4000-8000-999999999999", patientID: pair.patientID)])
        let whileAway = [await Answer(to: probe, from: a, token: token), await Answer(to: probe, from: b, token: token)]
        try await Task.sleep(for: .seconds(3))
        try await cluster.resume()
        try await sending.value
        let seen = answers.value.withLock { $0 } + whileAway
        #expect(whileAway.allSatisfy { $0.status == 503 }, "\(whileAway)")
        let refused = seen.filter { $0.status != 200 }
        // A COMMIT cut off by the shutdown may be answered 500 "may or may not be stored" instead: resent
        // with ifNoneExist, still stored once.
        #expect(refused.allSatisfy { ($0.status == 503 && $0.retryAfter != nil) || ($0.status == 500 && $0.detail.contains("may or may not be stored")) }, "\(refused)")
        #expect(seen.allSatisfy { $0.seconds < 10 }, "answers that took long: \(seen.filter { $0.seconds >= 10 })")
        guard seen.filter({ $0.status == 200 }).count == stream.count else { throw failure("not every Bundle was acknowledged") }
        let stored = try await pair.storedIdentifiers(through: pair.a)
        #expect(stored.count == 300 && stored.values.allSatisfy { $0 == 1 }, "\(stored.count) distinct, \(stored.filter { $0.value > 1 }.count) twice")
        pair.stop()
        await cluster.remove()
    }

    /// One request's outcome: its status (0: no answer at all), Retry-After, and how long it took.
    struct Answer: Sendable, CustomStringConvertible {
        let status: Int
        let retryAfter: String?
        let seconds: Double
        let detail: String

        init(to bundle: JSONValue, from instance: ServedDirectory, token: String) async {
            let began = ContinuousClock.now
            do {
                let answer = try await instance.send("POST", "/fhir", token: token, json: bundle)
                (status, retryAfter, detail) = (answer.status, answer.header("Retry-After"), String(answer.text.prefix(400)))
            } catch {
                (status, retryAfter, detail) = (0, nil, "\(error)")
            }
            let elapsed = (ContinuousClock.now - began).components
            seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        }

        var description: String { "\(status) after \(String(format: "%.1f", seconds)) s, Retry-After \(retryAfter ?? "-"): \(detail)" }
    }
}
