import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
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

    @Test("3 wrong passwords on A and 2 on B lock the account on both")
    func lockoutAcrossInstances() async throws {
        let location = try await TestPostgres.shared.makeDatabase()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("multi-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let shared = ["--database", TestPostgres.url(for: location), "--master-key-file", root + "/master.key"]
        _ = try await ServerExecutable.run(
            ["user", "add", "--role", "patient", "--email", "bob@example.org", "--name", "Bob", "--password-stdin", "--data-dir", root + "/a"] + shared,
            input: Self.password + "\n")
        let a = try await ServedDirectory(root + "/a", arguments: shared)
        let b = try await ServedDirectory(root + "/b", arguments: shared)
        defer {
            a.stop()
            b.stop()
        }
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
        await TestPostgres.shared.dropDatabase(location)
    }
}
