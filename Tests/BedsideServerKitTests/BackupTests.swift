import BedsideCore
import BedsideTestSupport
import Foundation
import GRDB
import Synchronization
import Testing

@testable import BedsideServerKit

/// A data directory with a database, a dev CA, a master key and files a backup leaves out.
struct BackupFixture {
    static let sentinel = "SENTINEL-backup-plaintext-4f1c9a"

    let root: URL
    var data: URL { root.appendingPathComponent("data") }
    var keyPrefix: String { root.appendingPathComponent("backup").path }
    let store: SQLiteServerStore
    let patientID: String

    init(observations: Int = 40) async throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-backup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let configuration = ServerConfiguration(dataDirectory: root.appendingPathComponent("data"))
        store = try configuration.openStore()
        let account = try await ServerAdministration(store: store, hasher: .testing)
            .addUser(email: "backup@example.org", role: .patient, password: LoopbackServer.password, name: "Bea Backup")
        patientID = try #require(account.patientID)
        try Self.addObservations(observations, to: store, patientID: patientID)
        try DevCertificateAuthority(directory: configuration.tlsDirectory).ensure()
        // The master key: made in the data directory when the store was first opened.
        #expect(configuration.masterKeyFile.exists)
        try FileManager.default.createDirectory(at: configuration.mailDirectory.appendingPathComponent("new"), withIntermediateDirectories: true)
        try Data("a mail".utf8).write(to: configuration.mailDirectory.appendingPathComponent("new/1.eml"))
        try FileManager.default.createDirectory(at: configuration.exportsDirectory, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: configuration.exportsDirectory.appendingPathComponent("job.ndjson"))
    }

    /// Writes Observations, each in its own transaction, the first noting the sentinel.
    @discardableResult
    static func addObservations(_ count: Int, to store: SQLiteServerStore, patientID: String, from start: Int = 0) throws -> [String] {
        try (start..<start + count).map { index in
            let id = UUID().uuidString.lowercased()
            let observation = ObservationBuilder.observation(
                kind: .heartRate, values: [.init(part: .heartRate, value: Double(50 + index % 70))],
                effective: FHIRDateTime.format(epochMilliseconds: 1_795_000_000_000 + Int64(index) * 60_000, utcOffsetSeconds: 3600),
                patientID: patientID, clientID: id, note: index == 0 ? sentinel : "reading \(index)")
            var stored = FHIRService.stamp(observation, type: .observation, id: id, version: 1, at: 1_795_000_000_000 + Int64(index))
            stored.patientID = patientID
            try store.writeNow { db in try db.put(stored) }
            return id
        }
    }

    /// A backup of the fixture in small chunks (many of them to cut and reorder), and the key that opens it.
    func backUp(_ name: String) throws -> (key: BackupSecretKey, path: String, report: BackupReport) {
        let key = try secretKey()
        let report = try ServerBackup.write(dataDirectory: data, recipient: key.recipient, output: path(name), chunkSize: 4096, shouldStop: { false })
        return (key, path(name), report)
    }

    func secretKey() throws -> BackupSecretKey {
        if let key = try? BackupSecretKey.read(path: keyPrefix + ".key") { return key }
        return try BackupSecretKey.generate(prefix: keyPrefix)
    }

    func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    func remove() {
        try? store.close()
        try? FileManager.default.removeItem(at: root)
    }

    /// Every row of every table, as text, in a stable order: two databases with equal dumps hold the same data.
    static func dump(_ databasePath: String, tables: [String]? = nil) throws -> [String: [String]] {
        let database = try DatabaseQueue(path: databasePath)
        defer { try? database.close() }
        return try database.read { db in
            let names = try tables ?? String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            var result: [String: [String]] = [:]
            for name in names {
                result[name] = try Row.fetchAll(db, sql: "SELECT * FROM \"\(name)\"").map { row in
                    row.databaseValues.map(\.description).joined(separator: "|")
                }.sorted()
            }
            return result
        }
    }

    static func mode(_ path: String) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    }
}

@Suite("Backups: encrypted, consistent, restorable, and refused when not intact")
struct BackupTests {
    @Test("a backup restores into a new directory with the same database, TLS material and master key, and modes 0700/0600")
    func roundTrip() async throws {
        let fixture = try await BackupFixture()
        defer { fixture.remove() }
        let (key, output, report) = try fixture.backUp("one.backup")
        #expect(report.contents.resourceCounts.first { $0.type == "Observation" }?.count == 40)
        #expect(try BackupFixture.mode(output) == 0o600)
        #expect(report.contents.files == ["bedside-server.sqlite", "tls/ca.key", "tls/ca.pem", "tls/server.key", "tls/server.pem", "master.key"])

        // Encrypted: neither the sentinel, the patient's address, nor SQLite's file header appear in it.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: output))
        for clear in [BackupFixture.sentinel, "backup@example.org", "SQLite format 3", "BEGIN EC PRIVATE KEY"] {
            #expect(bytes.range(of: Data(clear.utf8)) == nil, "\(clear) is in the backup in clear")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.data.path).filter { $0.hasPrefix(".backup") }.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.root.path).filter { $0.contains("partial") }.isEmpty)

        let target = fixture.root.appendingPathComponent("restored")
        let restored = try ServerBackup.restore(input: output, key: key, into: target)
        #expect(restored.contents.resourceCounts.map(\.type) == report.contents.resourceCounts.map(\.type))
        let live = fixture.data.path, copy = target.path
        try fixture.store.close()
        #expect(try BackupFixture.dump(copy + "/bedside-server.sqlite") == BackupFixture.dump(live + "/bedside-server.sqlite"))
        for file in ["tls/ca.pem", "tls/ca.key", "tls/server.pem", "tls/server.key", "master.key"] {
            #expect(FileManager.default.contents(atPath: copy + "/" + file) == FileManager.default.contents(atPath: live + "/" + file), "\(file)")
        }
        #expect(try BackupFixture.mode(copy) == 0o700)
        #expect(try BackupFixture.mode(copy + "/tls") == 0o700)
        for file in ["bedside-server.sqlite", "master.key", "tls/ca.key", "tls/server.key"] { #expect(try BackupFixture.mode(copy + "/" + file) == 0o600, "\(file)") }
        #expect(try BackupFixture.mode(copy + "/tls/ca.pem") == 0o644)
        // The development mailbox and Bulk Data files are not part of a backup.
        #expect(!FileManager.default.fileExists(atPath: copy + "/mail"))
        #expect(!FileManager.default.fileExists(atPath: copy + "/exports"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.root.path).filter { $0.contains(".restore-") }.isEmpty)

        // The restored directory opens as a server store, with the same Observation.
        let reopened = try ServerConfiguration(dataDirectory: target).openStore()
        defer { try? reopened.close() }
        #expect(try reopened.integrityCheck() == "ok")
        #expect(try reopened.readNow { db in try db.count(type: "Observation") } == 40)
    }

    @Test("a backup taken while another connection keeps writing holds exactly the transactions committed before it, intact")
    func consistentWhileWriting() async throws {
        let fixture = try await BackupFixture(observations: 200)
        defer { fixture.remove() }
        let key = try fixture.secretKey()
        let (store, patientID) = (fixture.store, fixture.patientID)
        // A thread of its own, as another process would be: the test's threads stay free.
        let stop = StopFlag(), done = StopFlag()
        let written = Mutex(0)
        Thread.detachNewThread {
            while !stop.isSet {
                let start = written.withLock { $0 }
                _ = try? BackupFixture.addObservations(5, to: store, patientID: patientID, from: 1000 + start)
                written.withLock { $0 += 5 }
            }
            done.set()
        }
        try await Task.sleep(for: .milliseconds(100))
        let before = try store.readNow { db in try db.count(type: "Observation") }
        let output = try fixture.backUp("busy.backup").path
        try await Task.sleep(for: .milliseconds(100))
        stop.set()
        while !done.isSet { try await Task.sleep(for: .milliseconds(10)) }
        let after = try store.readNow { db in try db.count(type: "Observation") }
        #expect(after > before, "the writer went on while the backup ran (\(written.withLock { $0 }) written)")

        let target = fixture.root.appendingPathComponent("restored")
        _ = try ServerBackup.restore(input: output, key: key, into: target)
        let tables = ["resource", "resource_history", "resource_code", "resource_identifier", "resource_category", "account"]
        try fixture.store.close()
        let copy = try BackupFixture.dump(target.path + "/bedside-server.sqlite", tables: tables)
        let live = try BackupFixture.dump(fixture.data.path + "/bedside-server.sqlite", tables: tables)
        let restoredObservations = try #require(copy["resource"]).filter { $0.contains("|\"Observation\"|") }.count
        #expect(restoredObservations >= before && restoredObservations <= after, "\(before) before, \(restoredObservations) restored, \(after) after")
        // Every restored row is a row of the live database, unchanged: a prefix of the writes, none torn.
        for table in tables {
            let liveRows = Set(live[table] ?? [])
            #expect((copy[table] ?? []).allSatisfy(liveRows.contains), "\(table)")
        }
        // Each Observation came with its index rows (one transaction): one category row per Observation.
        #expect(try #require(copy["resource_category"]).count == restoredObservations, "\(copy["resource_category"]?.prefix(2) ?? [])")
    }

    @Test("a truncated, altered, reordered, extended or foreign file, a wrong key and a used target are each refused, with nothing left behind")
    func refusals() async throws {
        let fixture = try await BackupFixture()
        defer { fixture.remove() }
        let (key, output, _) = try fixture.backUp("good.backup")
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: output)))
        let chunk = 4 + 4096 + 16, header = BackupContainer.headerLength
        #expect(good.count > header + 3 * chunk)

        func attempt(_ bytes: [UInt8], _ label: String, key: BackupSecretKey = key) throws -> BackupError? {
            let file = fixture.path("bad-\(UUID().uuidString).backup")
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            let target = fixture.root.appendingPathComponent("target-\(UUID().uuidString)")
            defer { #expect(!FileManager.default.fileExists(atPath: target.path), "\(label): the target was made") }
            do {
                _ = try ServerBackup.restore(input: file, key: key, into: target)
                Issue.record("\(label) was restored")
                return nil
            } catch let error as BackupError {
                return error
            }
        }

        var cuts = [10, header - 1, header, header + 100, header + chunk, header + 2 * chunk, good.count - 1]
        cuts.append(good.count - (good.count - header) % chunk)  // exactly before the last chunk
        for cut in cuts {
            let error = try attempt(Array(good.prefix(cut)), "cut at \(cut)")
            #expect(error?.kind == (cut < BackupContainer.magic.count ? .notABackup : .damaged), "cut at \(cut): \(String(describing: error))")
            if cut >= header { #expect(error?.message.contains("truncated") == true, "cut at \(cut): \(String(describing: error))") }
        }
        for (offset, kind) in [(0, BackupError.Kind.notABackup), (17, .notABackup), (27, .damaged), (30, .wrongKey), (70, .damaged), (header + 2, .damaged),
            (header + 50, .damaged), (good.count / 2, .damaged), (good.count - 1, .damaged)] {
            var flipped = good
            flipped[offset] ^= 0x01
            let error = try attempt(flipped, "byte \(offset) flipped")
            #expect(error?.kind == kind, "byte \(offset): \(String(describing: error))")
        }
        var swapped = good
        swapped.replaceSubrange(header + chunk..<header + 2 * chunk, with: good[header + 2 * chunk..<header + 3 * chunk])
        swapped.replaceSubrange(header + 2 * chunk..<header + 3 * chunk, with: good[header + chunk..<header + 2 * chunk])
        #expect(try attempt(swapped, "chunks swapped")?.kind == .damaged)
        var dropped = good
        dropped.removeSubrange(header + chunk..<header + 2 * chunk)
        #expect(try attempt(dropped, "a chunk dropped")?.kind == .damaged)
        #expect(try attempt(good + [0], "a byte appended")?.message.contains("after its last part") == true)
        #expect(try attempt(Array("not a backup at all, just text\n".utf8), "text")?.kind == .notABackup)
        let stranger = try BackupSecretKey.generate(prefix: fixture.path("stranger"))
        let wrong = try attempt(good, "the wrong key", key: stranger)
        #expect(wrong?.kind == .wrongKey)
        #expect(wrong?.message.contains(key.recipient.fingerprintText) == true)

        // A target with anything in it is left alone; an empty one is filled.
        let used = fixture.root.appendingPathComponent("used")
        try FileManager.default.createDirectory(at: used, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: used.appendingPathComponent("notes.txt"))
        #expect(throws: BackupError.self) { try ServerBackup.restore(input: output, key: key, into: used) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: used.path) == ["notes.txt"])
        #expect(throws: BackupError.self) { try ServerBackup.restore(input: output, key: key, into: fixture.data) }
        let empty = fixture.root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        _ = try ServerBackup.restore(input: output, key: key, into: empty)
        #expect(FileManager.default.fileExists(atPath: empty.path + "/bedside-server.sqlite"))
        // A backup never overwrites.
        #expect(throws: BackupError.self) {
            try ServerBackup.write(dataDirectory: fixture.data, recipient: key.recipient, output: output)
        }
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: output))) == good)
        // Nothing half-made is left beside the targets.
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.root.path).filter { $0.hasPrefix(".") }.isEmpty)
    }

    @Test("a well-encrypted file (anyone may hold the public key) that names a path a backup never holds is refused before anything is written")
    func hostileArchive() async throws {
        let fixture = try await BackupFixture(observations: 1)
        defer { fixture.remove() }
        let key = try fixture.secretKey()
        let manifest = BackupContents(createdAt: "2026-01-01T00:00:00Z", serverVersion: "0", databaseBytes: 1, resourceCounts: [], accounts: nil, files: [])
            .manifest.serialized()
        let cases: [(String, (BackupArchiveWriter) throws -> Void)] = [
            ("a path out of the directory", { try $0.addFile("../escaped", mode: 0o600, contents: [1]) }),
            ("a path inside tls that climbs", { try $0.addDirectory("tls", mode: 0o700); try $0.addFile("tls/../../escaped", mode: 0o600, contents: [1]) }),
            ("an unknown file", { try $0.addFile("mail/new/1.eml", mode: 0o600, contents: [1]) }),
            ("the database twice", { try $0.addFile("bedside-server.sqlite", mode: 0o600, contents: [1]); try $0.addFile("bedside-server.sqlite", mode: 0o600, contents: [1]) }),
            ("no database", { try $0.addFile("master.key", mode: 0o600, contents: [1]) }),
            ("a database that is not one", { try $0.addFile("bedside-server.sqlite", mode: 0o600, contents: Array("not sqlite".utf8)) }),
            ("a length past the end", { writer in
                var head: [UInt8] = [BackupArchive.file, 0, 10] + Array("master.key".utf8) + [0x01, 0x80]
                head.appendBigEndian(UInt64.max)
                try writer.sealer.write(head)
            }),
        ]
        for (label, build) in cases {
            let file = fixture.path("hostile-\(UUID().uuidString).backup")
            let handle = try BackupFileHandle.createExclusive(file)
            let writer = BackupArchiveWriter(sealer: try BackupSealer(output: handle, recipient: key.recipient))
            try writer.addFile(BackupArchive.manifestName, mode: 0o600, contents: manifest)
            try build(writer)
            try writer.finish()
            handle.close()
            let target = fixture.root.appendingPathComponent("target")
            #expect(throws: BackupError.self, "\(label)") { try ServerBackup.restore(input: file, key: key, into: target) }
            #expect(!FileManager.default.fileExists(atPath: target.path), "\(label)")
            #expect(!FileManager.default.fileExists(atPath: fixture.root.appendingPathComponent("escaped").path), "\(label)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.root.path).filter { $0.hasPrefix(".") }.isEmpty, "\(label)")
        }
    }

    @Test("backup-key writes PREFIX.key 0600 and PREFIX.pub, never over an existing file; each half is told from the other")
    func keys() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let prefix = root.appendingPathComponent("offsite").path
        let secret = try BackupSecretKey.generate(prefix: prefix)
        #expect(try BackupFixture.mode(prefix + ".key") == 0o600)
        #expect(try BackupFixture.mode(prefix + ".pub") == 0o644)
        let publicText = try String(contentsOfFile: prefix + ".pub", encoding: .utf8)
        #expect(publicText.contains("bedside-backup-recipient-x25519 "))
        #expect(publicText.contains(secret.recipient.fingerprintText))
        #expect(try BackupRecipientKey.read(path: prefix + ".pub").fingerprint == secret.recipient.fingerprint)
        #expect(try BackupSecretKey.read(path: prefix + ".key").recipient.fingerprint == secret.recipient.fingerprint)

        let secretBefore = FileManager.default.contents(atPath: prefix + ".key")
        #expect(throws: BackupError(.exists, "\(prefix).key already exists; a backup key is never overwritten (backups made for it would be lost).")) {
            try BackupSecretKey.generate(prefix: prefix)
        }
        #expect(FileManager.default.contents(atPath: prefix + ".key") == secretBefore)
        // Only the .pub exists: still refused, and no .key is made.
        let half = root.appendingPathComponent("half").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: half + ".pub"))
        #expect(throws: BackupError.self) { try BackupSecretKey.generate(prefix: half) }
        #expect(!FileManager.default.fileExists(atPath: half + ".key"))

        let swapped = try #require(throws: BackupError.self) { try BackupRecipientKey.read(path: prefix + ".key") }
        #expect(swapped.message.contains("other half") && swapped.message.contains(".pub"))
        #expect(try #require(throws: BackupError.self) { try BackupSecretKey.read(path: prefix + ".pub") }.message.contains(".key file"))
        let garbage = root.appendingPathComponent("garbage").path
        try Data("bedside-backup-recipient-x25519 not*base64\n".utf8).write(to: URL(fileURLWithPath: garbage))
        #expect(try #require(throws: BackupError.self) { try BackupRecipientKey.read(path: garbage) }.kind == .key)
        try Data(repeating: 0x41, count: 100_000).write(to: URL(fileURLWithPath: garbage + "2"))
        #expect(try #require(throws: BackupError.self) { try BackupRecipientKey.read(path: garbage + "2") }.message.contains("too large"))
        #expect(try #require(throws: BackupError.self) { try BackupRecipientKey.read(path: root.path + "/missing.pub") }.kind == .key)
    }

    @Test("scheduled backups are named by UTC time, fall due an interval after the newest, and only the K newest are kept")
    func scheduleNamesAndPruning() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-schedule-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let moment = Date(timeIntervalSince1970: 1_796_000_000)  // 2026-11-30T00:53:20Z
        #expect(BackupSchedule.fileName(at: moment) == "bedside-server-20261130T005320Z.backup")
        #expect(BackupSchedule.time(ofFileName: "bedside-server-20261130T005320Z.backup") == moment)
        #expect(BackupSchedule.time(ofFileName: "bedside-server-20261130T005320Z.backup.partial") == nil)
        let secret = try BackupSecretKey.generate(prefix: root.appendingPathComponent("key").path)
        let schedule = BackupSchedule(interval: .seconds(3600), recipient: secret.recipient, directory: root, keep: 2)
        #expect(schedule.secondsUntilDue(now: moment) == 0)
        for offset in [0, 600, 1200] {
            try Data().write(to: root.appendingPathComponent(BackupSchedule.fileName(at: moment.addingTimeInterval(Double(offset)))))
        }
        try Data().write(to: root.appendingPathComponent("notes.txt"))
        #expect(schedule.secondsUntilDue(now: moment.addingTimeInterval(1800)) == 3000)
        #expect(schedule.secondsUntilDue(now: moment.addingTimeInterval(99_999)) == 0)
        #expect(schedule.prune() == [BackupSchedule.fileName(at: moment)])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() == [
            BackupSchedule.fileName(at: moment.addingTimeInterval(600)), BackupSchedule.fileName(at: moment.addingTimeInterval(1200)), "key.key", "key.pub", "notes.txt",
        ])
    }

    @Test("a server with a backup schedule writes a restorable backup on a background task and stops cleanly")
    func scheduledByTheServer() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-scheduled-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let secret = try BackupSecretKey.generate(prefix: root.appendingPathComponent("k").path)
        let directory = root.appendingPathComponent("backups")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let server = try await TestServer { configuration in
            configuration.backups = BackupSchedule(interval: .seconds(3600), recipient: secret.recipient, directory: directory, keep: 3)
        }
        try await server.addPatient("scheduled@example.org")
        var found: [String] = []
        let deadline = Date().addingTimeInterval(30)
        while found.isEmpty, Date() < deadline {
            try await Task.sleep(for: .milliseconds(200))
            found = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { BackupSchedule.time(ofFileName: $0) != nil }
        }
        await server.shutdown()
        let name = try #require(found.first, "no scheduled backup appeared")
        #expect(try BackupFixture.mode(directory.appendingPathComponent(name).path) == 0o600)
        let report = try ServerBackup.restore(input: directory.appendingPathComponent(name).path, key: secret, into: root.appendingPathComponent("restored"))
        #expect(report.contents.files.contains("tls/ca.pem"))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("restored/bedside-server.sqlite").path))
    }
}
