import BedsideCore
import BedsideSync
import BedsideTestSupport
import Foundation
import GRDB
import Testing

@testable import BedsideServerKit

/// `backup-key`, `backup`, `restore` and `serve --backup-…` of the real `bedside-server` binary.
@Suite("bedside-server backup and restore as processes")
struct BackupProcessTests {
    static let password = "lantern-orbit-meadow-42"


    static func observation(patientID: String, index: Int) -> JSONValue {
        ObservationBuilder.observation(
            kind: .heartRate, values: [.init(part: .heartRate, value: Double(55 + index % 60))],
            effective: FHIRDateTime.format(epochMilliseconds: SystemClock().now() - Int64(index) * 1000, utcOffsetSeconds: 0),
            patientID: patientID, clientID: UUID().uuidString.lowercased(), note: "\(BackupFixture.sentinel) \(index)")
    }

    @Test("a backup made while the real server ingests restores the data committed before it, and the restored directory serves it over the same TLS")
    func backupWhileIngesting() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-backup-process-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = root + "/data", restored = root + "/restored", email = "ingest@example.org"
        let added = try await ServerExecutable.run(
            ["user", "add", "--role", "patient", "--email", email, "--password-stdin", "--data-dir", data], input: Self.password + "\n")
        #expect(added.status == 0, "\(added.error)")
        let keys = try await ServerExecutable.run(["backup-key", "--output", root + "/offsite"])
        #expect(keys.status == 0 && keys.output.contains("Fingerprint: SHA256:"), "\(keys.error)")

        let server = try await ServedDirectory(data)
        defer { server.stop() }
        let (token, patientID) = try await server.login(email: email, password: Self.password)

        // The ingest: one Observation per request, on and on, each acknowledged id noted.
        let acknowledged = Acknowledged()
        let ingest = Task {
            var index = 0
            while !Task.isCancelled {
                let answer = try await server.send("POST", "/fhir/Observation", token: token, json: Self.observation(patientID: patientID, index: index))
                guard answer.status == 201, let id = answer.json?["id"]?.stringValue else { throw TestFailure("ingest answered \(answer.status)") }
                acknowledged.add(id)
                index += 1
            }
        }
        while acknowledged.ids.count < 20 { try await Task.sleep(for: .milliseconds(20)) }
        let beforeBackup = acknowledged.ids
        let backup = try await ServerExecutable.run(
            ["backup", "--data-dir", data, "--recipient", root + "/offsite.pub", "--output", root + "/while-ingesting.backup"])
        #expect(backup.status == 0, "\(backup.error)")
        #expect(backup.output.contains("Observation"), "\(backup.output)")
        let afterBackup = acknowledged.ids.count
        try await Task.sleep(for: .milliseconds(300))
        ingest.cancel()
        _ = try? await ingest.value
        #expect(acknowledged.ids.count > afterBackup, "the server went on ingesting after the backup")
        #expect(try BackupFixture.mode(root + "/while-ingesting.backup") == 0o600)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: root + "/while-ingesting.backup"))
        #expect(bytes.range(of: Data(BackupFixture.sentinel.utf8)) == nil, "the backup holds a note in clear")
        #expect(bytes.range(of: Data(email.utf8)) == nil, "the backup holds an e-mail address in clear")

        let restore = try await ServerExecutable.run(
            ["restore", "--input", root + "/while-ingesting.backup", "--key", root + "/offsite.key", "--data-dir", restored])
        #expect(restore.status == 0, "\(restore.error)")
        #expect(restore.output.contains("Restored the backup of"), "\(restore.output)")

        // Every Observation acknowledged before the backup began is there, each exactly as the server holds it.
        let copy = try Self.observations(restored + "/bedside-server.sqlite")
        let live = try Self.observations(data + "/bedside-server.sqlite")
        #expect(Set(beforeBackup).isSubset(of: Set(copy.keys)), "\(beforeBackup.count) acknowledged before, \(copy.count) restored")
        #expect(copy.count <= live.count)
        for (id, json) in copy { #expect(live[id] == json, "Observation/\(id) differs") }
        #expect(FileManager.default.contents(atPath: restored + "/tls/ca.pem") == FileManager.default.contents(atPath: data + "/tls/ca.pem"))

        // The restored directory serves the same data, with the same certificate the clients already trust.
        server.stop()
        let second = try await ServedDirectory(restored, caFile: data + "/tls/ca.pem")
        defer { second.stop() }
        let (token2, patient2) = try await second.login(email: email, password: Self.password)
        #expect(patient2 == patientID)
        let first = try #require(beforeBackup.first)
        let read = try await second.send("GET", "/fhir/Observation/\(first)", token: token2)
        #expect(read.status == 200)
        #expect(read.json?["note"]?.arrayValue?.first?["text"]?.stringValue == "\(BackupFixture.sentinel) 0")
    }

    @Test("the command line refuses a truncated or altered backup, a wrong key and a used target with one sentence and exit 1, changing nothing")
    func refusals() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-backup-refusals-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = root + "/data"
        _ = try await ServerExecutable.run(["user", "list", "--data-dir", data])
        _ = try await ServerExecutable.run(["backup-key", "--output", root + "/k"])
        _ = try await ServerExecutable.run(["backup-key", "--output", root + "/other"])
        let again = try await ServerExecutable.run(["backup-key", "--output", root + "/k"])
        #expect(again.status == 1 && again.error.contains("never overwritten"), "\(again.error)")
        let made = try await ServerExecutable.run(["backup", "--data-dir", data, "--recipient", root + "/k.pub", "--output", root + "/b.backup"])
        #expect(made.status == 0, "\(made.error)")
        let good = try Data(contentsOf: URL(fileURLWithPath: root + "/b.backup"))
        try good.prefix(good.count - 7).write(to: URL(fileURLWithPath: root + "/truncated.backup"))
        var altered = good
        altered[altered.count / 2] ^= 0x20
        try altered.write(to: URL(fileURLWithPath: root + "/altered.backup"))
        try FileManager.default.createDirectory(atPath: root + "/used", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/used/keep"))

        let cases: [([String], String)] = [
            (["--input", root + "/truncated.backup", "--key", root + "/k.key", "--data-dir", root + "/new"], "truncated"),
            (["--input", root + "/altered.backup", "--key", root + "/k.key", "--data-dir", root + "/new"], "altered"),
            (["--input", root + "/b.backup", "--key", root + "/other.key", "--data-dir", root + "/new"], "was made for the backup key"),
            (["--input", root + "/b.backup", "--key", root + "/k.pub", "--data-dir", root + "/new"], "other half"),
            (["--input", root + "/b.backup", "--key", root + "/k.key", "--data-dir", root + "/used"], "already holds files"),
            (["--input", root + "/missing.backup", "--key", root + "/k.key", "--data-dir", root + "/new"], "No such file"),
        ]
        for (arguments, expected) in cases {
            let result = try await ServerExecutable.run(["restore"] + arguments)
            #expect(result.status == 1, "\(arguments): \(result.error)")
            #expect(result.error.hasPrefix("Error: ") && result.error.contains(expected), "\(arguments): \(result.error)")
            #expect(result.error.split(separator: "\n").count == 1, "one sentence: \(result.error)")
            #expect(!FileManager.default.fileExists(atPath: root + "/new"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/used") == ["keep"])
        let overwrite = try await ServerExecutable.run(["backup", "--data-dir", data, "--recipient", root + "/k.pub", "--output", root + "/b.backup"])
        #expect(overwrite.status == 1 && overwrite.error.contains("already exists"), "\(overwrite.error)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/b.backup")) == good)
        let noDatabase = try await ServerExecutable.run(["backup", "--data-dir", root + "/nothing", "--recipient", root + "/k.pub", "--output", root + "/c.backup"])
        #expect(noDatabase.status == 1 && noDatabase.error.contains("holds no Bedside server database"), "\(noDatabase.error)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasPrefix(".") }.isEmpty)
    }

    @Test("serve --backup-every-hours writes a backup at start when none is due later, keeps the K newest, and leaves other files")
    func scheduledByServe() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-backup-serve-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = root + "/data", backups = root + "/backups"
        try FileManager.default.createDirectory(atPath: backups, withIntermediateDirectories: true)
        let keys = try await ServerExecutable.run(["backup-key", "--output", root + "/k"])
        #expect(keys.status == 0, "\(keys.error)")
        let old = ["bedside-server-20200101T000000Z.backup", "bedside-server-20200102T000000Z.backup", "bedside-server-20200103T000000Z.backup"]
        for name in old + ["notes.txt"] { try Data().write(to: URL(fileURLWithPath: backups + "/" + name)) }

        let refused = try await ServerExecutable.run(["serve", "--dev-tls", "--data-dir", data, "--backup-every-hours", "1", "--backup-dir", backups])
        #expect(refused.status != 0 && refused.error.contains("need all of"), "\(refused.error)")
        let (server, _, _) = try await offPool {
            try ServerExecutable.serve(
                dataDirectory: data, arguments: ["--backup-every-hours", "1", "--backup-recipient", root + "/k.pub", "--backup-dir", backups, "--backup-keep", "2"])
        }
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        var names: [String] = []
        let deadline = Date().addingTimeInterval(30)
        repeat {
            try await Task.sleep(for: .milliseconds(200))
            names = try FileManager.default.contentsOfDirectory(atPath: backups).sorted()
        } while names.contains(old[1]) && Date() < deadline
        let made = names.filter { BackupSchedule.time(ofFileName: $0) != nil && !old.contains($0) }
        #expect(made.count == 1, "\(names)")
        #expect(names == (old.suffix(1) + made + ["notes.txt"]).sorted(), "the two newest backups and the other file are kept")
        let restored = try await ServerExecutable.run(
            ["restore", "--input", backups + "/" + (made.first ?? "none"), "--key", root + "/k.key", "--data-dir", root + "/restored"])
        #expect(restored.status == 0, "\(restored.error)")
    }

    /// Observation id -> stored JSON.
    static func observations(_ path: String) throws -> [String: [UInt8]] {
        var configuration = Configuration()
        configuration.readonly = true
        let database = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? database.close() }
        return try database.read { db in
            var result: [String: [UInt8]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, json FROM resource WHERE type = 'Observation'") {
                result[row["id"]] = Array(row["json"] as Data)
            }
            return result
        }
    }
}

/// Ids the server acknowledged, in order.
final class Acknowledged: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []

    var ids: [String] { lock.withLock { list } }
    func add(_ id: String) { lock.withLock { list.append(id) } }
}
