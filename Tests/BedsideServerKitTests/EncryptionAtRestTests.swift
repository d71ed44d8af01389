import BedsideCore
import BedsideSync
import Crypto
import Foundation
import GRDB
import Testing

@testable import BedsideServerKit

/// The server's files hold no health data or names in clear; the master key is needed, checked and
/// rotatable; an altered sealed value is refused, never served.
@Suite("Encryption at rest")
struct EncryptionAtRestTests {
    static let noteSentinel = "SENTINEL-NOTE-Zq81"
    static let nameSentinel = "Zebedee Sentinelli"
    static let emailSentinel = "zebedee.sentinelli@example.org"

    final class Directory {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("encryption-\(UUID().uuidString)")
        var path: String { url.path }
        var databasePath: String { url.appendingPathComponent("bedside-server.sqlite").path }
        var keyFile: MasterKeyFile { MasterKeyFile(path: url.appendingPathComponent("master.key").path) }
        init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: url) }

        func open(_ keyFile: MasterKeyFile? = nil) throws -> SQLiteServerStore {
            try SQLiteServerStore(path: databasePath, encryption: .masterKey(keyFile ?? self.keyFile))
        }
    }

    static let patient = Account(
        id: "acc-1", email: emailSentinel, role: .patient, passwordHash: "x", displayName: nameSentinel, patientID: "p1", createdAt: 0)

    static func observation(id: String = "o1", version: Int, note: String) -> StoredResource {
        let observation = ObservationBuilder.observation(
            kind: .heartRate, values: [.init(part: .heartRate, value: 61)], effective: "2026-11-20T08:00:00+01:00", patientID: "p1",
            clientID: "client-\(id)", note: note)
        return FHIRService.stamp(observation, type: .observation, id: id, version: version, at: 1_795_000_000_000 + Int64(version))
    }

    /// Every file under `directory` (the dev mailbox aside: delivery, not storage), with the sentinels it holds.
    static func sentinelsFound(under directory: String, sentinels: [String] = [noteSentinel, nameSentinel, emailSentinel]) throws -> [String] {
        var found: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let name = enumerator?.nextObject() as? String {
            if name == "mail" || name.hasPrefix("mail/") { continue }
            let path = directory + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            for sentinel in sentinels where bytes.range(of: Data(sentinel.utf8)) != nil { found.append("\(sentinel) in \(name)") }
        }
        return found
    }

    @Test("names, e-mail addresses and notes are in no file of the store, and read back whole")
    func sealedOnDisk() throws {
        let directory = try Directory()
        do {
            let store = try directory.open()
            try store.writeNow { db in
                try db.insert(Self.patient)
                try db.put(Self.observation(version: 1, note: Self.noteSentinel + " first"))
                try db.put(Self.observation(version: 2, note: Self.noteSentinel + " second"))
            }
            // While open (the WAL holds the writes) and after closing.
            #expect(try Self.sentinelsFound(under: directory.path) == [])
            try store.close()
        }
        #expect(try Self.sentinelsFound(under: directory.path) == [])
        let mode = try FileManager.default.attributesOfItem(atPath: directory.keyFile.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let store = try directory.open()
        defer { try? store.close() }
        let account = try store.readNow { db in try db.account(email: Self.emailSentinel) }
        #expect(account?.displayName == Self.nameSentinel)
        #expect(try store.readNow { db in try db.account(email: "someone.else@example.org") } == nil)
        let current = try #require(try store.readNow { db in try db.resource(type: "Observation", id: "o1") })
        #expect(String(decoding: current.json, as: UTF8.self).contains(Self.noteSentinel + " second"))
        let first = try #require(try store.readNow { db in try db.resource(type: "Observation", id: "o1", version: 1) })
        #expect(String(decoding: first.json, as: UTF8.self).contains(Self.noteSentinel + " first"))
        #expect(try store.readNow { db in try db.search(ResourceQuery(type: "Observation")) }.resources.count == 1)
    }

    /// The wrapped data key, the applied migrations and the key file, read without writing.
    static func keyState(_ directory: Directory) throws -> [String] {
        var configuration = Configuration()
        configuration.readonly = true
        let raw = try DatabaseQueue(path: directory.databasePath, configuration: configuration)
        return try raw.read { db in
            try Row.fetchAll(db, sql: "SELECT hex(wrapped), master_fingerprint FROM data_key").map { "\($0)" }
                + String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        } + [try String(contentsOfFile: directory.keyFile.path, encoding: .utf8)]
    }

    @Test("a wrong, missing, readable-by-others or malformed master key refuses to open and changes nothing")
    func keyRefusals() throws {
        let directory = try Directory()
        try directory.open().close()
        let before = try Self.keyState(directory)

        let other = MasterKeyFile(path: directory.path + "/other.key")
        _ = try other.create()
        #expect {
            try directory.open(other)
        } throws: { error in
            guard case .wrongKey = error as? StoreEncryptionError else { return false }
            return true
        }
        let missing = MasterKeyFile(path: directory.path + "/nowhere.key")
        #expect(throws: StoreEncryptionError.self) { try directory.open(missing) }
        #expect(!missing.exists, "a key is never made for a database that has one")
        chmod(other.path, 0o644)
        #expect(throws: StoreEncryptionError.keyFileNotPrivate(path: other.path, mode: "644")) { try directory.open(other) }
        let malformed = directory.path + "/malformed.key"
        FileManager.default.createFile(atPath: malformed, contents: Data("not a key\n".utf8), attributes: [.posixPermissions: 0o600])
        #expect(throws: StoreEncryptionError.keyFileMalformed(path: malformed)) { try directory.open(MasterKeyFile(path: malformed)) }
        #expect(try Self.keyState(directory) == before)
        try directory.open().close()
    }

    @Test("rotating the master key re-wraps the data key: the new key opens, the old does not; an interrupted rotation finishes")
    func rotation() throws {
        let directory = try Directory()
        let store = try directory.open()
        try store.writeNow { db in try db.insert(Self.patient) }
        let oldCopy = directory.path + "/old-copy.key"
        try FileManager.default.copyItem(atPath: directory.keyFile.path, toPath: oldCopy)

        let inPlace = try MasterKeyRotation.rotate(store: store, current: directory.keyFile, to: nil, at: 1)
        #expect(inPlace.replacedInPlace)
        #expect(!FileManager.default.fileExists(atPath: directory.keyFile.stagedPath))
        let elsewhere = directory.path + "/elsewhere.key"
        let moved = try MasterKeyRotation.rotate(store: store, current: directory.keyFile, to: elsewhere, at: 2)
        #expect(moved.path == elsewhere)
        #expect(try store.readNow { db in try db.auditEvents(after: 0, limit: 10) }.filter { $0.event.action == "rotate-key" }.count == 2)
        try store.close()

        #expect(throws: StoreEncryptionError.self) { try directory.open(MasterKeyFile(path: oldCopy)) }
        #expect(throws: StoreEncryptionError.self) { try directory.open() }
        let reopened = try directory.open(MasterKeyFile(path: elsewhere))
        #expect(try reopened.readNow { db in try db.account(email: Self.emailSentinel) }?.displayName == Self.nameSentinel)

        // A rotation stopped after the re-wrap and before the rename: the next start completes it.
        let staged = MasterKeyFile(path: directory.keyFile.stagedPath)
        try FileManager.default.removeItem(atPath: directory.keyFile.path)
        try FileManager.default.copyItem(atPath: elsewhere, toPath: directory.keyFile.path)
        let newMaster = try staged.create()
        try reopened.rewrapDataKey(from: try MasterKeyFile(path: elsewhere).read(), to: newMaster, at: 3)
        try reopened.close()
        let finished = try directory.open()
        #expect(!staged.exists)
        #expect(MasterKeyFile.fingerprint(try directory.keyFile.read()) == MasterKeyFile.fingerprint(newMaster))
        #expect(try finished.readNow { db in try db.account(email: Self.emailSentinel) } != nil)
        try finished.close()
    }

    @Test("a sealed body that was altered, or moved to another row, is refused rather than served")
    func tamperingRefused() throws {
        let directory = try Directory()
        do {
            let store = try directory.open()
            try store.writeNow { db in
                try db.put(Self.observation(version: 1, note: "one"))
                try db.put(Self.observation(id: "o2", version: 1, note: "two"))
            }
            try store.close()
        }
        do {
            let raw = try DatabaseQueue(path: directory.databasePath)
            try raw.write { db in
                // o2 gets o1's sealed body: it decrypts, but not for this row.
                try db.execute(sql: "UPDATE resource SET json = (SELECT json FROM resource WHERE id = 'o1') WHERE id = 'o2'")
            }
        }
        let store = try directory.open()
        defer { try? store.close() }
        #expect(throws: StoreEncryptionError.self) { try store.readNow { db in try db.resource(type: "Observation", id: "o2") } }
        #expect(try store.readNow { db in try db.resource(type: "Observation", id: "o1") } != nil)
        try store.writeNow { _ in }
        let raw = try DatabaseQueue(path: directory.databasePath)
        try raw.write { db in
            try db.execute(sql: "UPDATE resource SET json = CAST(substr(json, 1, length(json) - 1) || x'00' AS BLOB) WHERE id = 'o1'")
        }
        #expect(throws: StoreEncryptionError.self) { try store.readNow { db in try db.resource(type: "Observation", id: "o1") } }
    }

    @Test("a store from before encryption is sealed in place at the upgrade, and its clear text is gone from the file")
    func upgradeSealsOldData() throws {
        let directory = try Directory()
        do {
            let old = try DatabaseQueue(path: directory.databasePath)
            try ServerMigrations.migratorBeforeEncryption.migrate(old)
            try old.write { db in
                let session = SQLiteStoreSession(db: db, keys: nil)
                try session.insert(Self.patient)
                try session.put(Self.observation(version: 1, note: Self.noteSentinel))
                try session.put(Self.observation(version: 2, note: Self.noteSentinel + " again"))
                try session.save(LoginThrottle(key: "login:abc", failures: 2))
            }
        }
        #expect(try !Self.sentinelsFound(under: directory.path).isEmpty, "the positive control: the old store holds them in clear")
        let store = try directory.open()
        defer { try? store.close() }
        #expect(try Self.sentinelsFound(under: directory.path) == [])
        #expect(try store.readNow { db in try db.account(email: Self.emailSentinel) }?.displayName == Self.nameSentinel)
        #expect(try store.readNow { db in try db.throttle(key: "login:abc") }?.failures == 2)
        let first = try #require(try store.readNow { db in try db.resource(type: "Observation", id: "o1", version: 1) })
        #expect(String(decoding: first.json, as: UTF8.self).contains(Self.noteSentinel))
    }

    @Test("export files are sealed in chunks: read back whole, and refused when cut short, altered or renamed")
    func sealedExportFiles() throws {
        let directory = try Directory()
        let store = try directory.open()
        defer { try? store.close() }
        var files = NDJSONFiles(folder: directory.url, type: "Observation", perFile: 100_000, keys: store.keys, jobID: "job1")
        let lines = (0..<3000).map { index in Array("{\"resourceType\":\"Observation\",\"note\":\"\(Self.noteSentinel) \(index) \(String(repeating: "x", count: 500))\"}".utf8) }
        for line in lines { try files.append(line) }
        try files.finish()
        let path = directory.path + "/Observation-1.ndjson"
        #expect(try Self.sentinelsFound(under: directory.path) == [])

        func readAll(_ path: String, file: String = "Observation-1.ndjson") throws -> [UInt8] {
            let reader = try SealedExportFile.Reader(path: path, keys: store.keys, job: "job1", file: file)
            var all: [UInt8] = []
            while let chunk = try reader.next() { all += chunk }
            return all
        }
        let expected: [UInt8] = lines.flatMap { line -> [UInt8] in line + [0x0A] }
        #expect(try readAll(path) == expected)
        #expect(throws: StoreEncryptionError.self) { try readAll(path, file: "Observation-2.ndjson") }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.count > 1 << 20, "more than one chunk")
        let cut = directory.path + "/cut.ndjson"
        // Cut at the end of the first chunk: every chunk left is whole, but the last is missing.
        let firstLength = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        try bytes.prefix(4 + firstLength).write(to: URL(fileURLWithPath: cut))
        #expect(throws: StoreEncryptionError.self) { try readAll(cut) }
        var altered = bytes
        altered[altered.count / 2] ^= 0x01
        try altered.write(to: URL(fileURLWithPath: cut))
        #expect(throws: StoreEncryptionError.self) { try readAll(cut) }
    }

    @Test("the sentinel test: a real server's data directory holds no name, address or note a patient gave, while it runs and after")
    func serverFilesHoldNoSentinel() async throws {
        let directory = try Directory()
        let data = directory.path
        let password = "lantern-orbit-meadow-42"
        let added = try await ServerExecutable.run(
            ["user", "add", "--role", "patient", "--email", Self.emailSentinel, "--name", Self.nameSentinel, "--password-stdin", "--data-dir", data],
            input: password + "\n")
        #expect(added.status == 0, "\(added.error)")
        #expect(added.error.contains("made a new master key"))
        let server = try await ServedDirectory(data)
        defer { server.stop() }
        let (token, patientID) = try await server.login(email: Self.emailSentinel, password: password)
        let observation = ObservationBuilder.observation(
            kind: .heartRate, values: [.init(part: .heartRate, value: 64)],
            effective: FHIRDateTime.format(epochMilliseconds: SystemClock().now(), utcOffsetSeconds: 0), patientID: patientID,
            clientID: UUID().uuidString.lowercased(), note: Self.noteSentinel)
        let created = try await server.send("POST", "/fhir/Observation", token: token, json: observation)
        #expect(created.status == 201)
        let search = try await server.send("GET", "/fhir/Observation?patient=\(patientID)", token: token)
        #expect(String(decoding: search.body, as: UTF8.self).contains(Self.noteSentinel), "the API serves what the files hide")
        let patient = try await server.send("GET", "/fhir/Patient/\(patientID)", token: token)
        #expect(String(decoding: patient.body, as: UTF8.self).contains("Sentinelli"))

        #expect(try Self.sentinelsFound(under: data, sentinels: [Self.noteSentinel, "Sentinelli", Self.emailSentinel]) == [])
        server.stop()
        #expect(try Self.sentinelsFound(under: data, sentinels: [Self.noteSentinel, "Sentinelli", Self.emailSentinel]) == [])
    }
}
