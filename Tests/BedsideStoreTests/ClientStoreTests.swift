import BedsideCore
import BedsideVault
import Foundation
import GRDB
import Testing

@testable import BedsideStore

/// A store in a fresh private directory, with a cheap vault.
final class StoreFixture {
    let directory: URL
    let vault: KeyVault
    let store: ClientStore

    init() throws {
        umask(0o077)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("client-store-\(UUID().uuidString)/default")
        try SecureFiles.makePrivateDirectory(directory)
        vault = try KeyVault.create(password: "lantern-orbit-meadow-42", parameters: .testing).0
        store = try ClientStore(directory: directory, vault: vault)
    }

    deinit {
        store.close()
        try? FileManager.default.removeItem(at: directory.deletingLastPathComponent())
    }

    func weight(_ literal: String, at time: Int64, note: String? = nil) -> MeasurementRecord {
        MeasurementRecord(
            id: UUID().uuidString.lowercased(), kind: .bodyWeight, values: [.init(part: .bodyWeight, literal: literal)],
            effectiveAt: time, utcOffsetSeconds: 3600, note: note)
    }

    /// Every byte of every file in the data directory.
    func allBytes() throws -> [(String, Data)] {
        let files = try FileManager.default.subpathsOfDirectory(atPath: directory.path)
        return try files.compactMap { name in
            var isDirectory: ObjCBool = false
            let path = directory.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { return nil }
            return (name, try Data(contentsOf: URL(fileURLWithPath: path)))
        }
    }
}

/// The forms a secret could take on disk if it leaked: UTF-8, UTF-16 both ways, hex both cases, base64 at each alignment.
func encodings(of secret: String) -> [Data] {
    var forms = [Data(secret.utf8), secret.data(using: .utf16LittleEndian)!, secret.data(using: .utf16BigEndian)!]
    let hex = secret.utf8.map { String(format: "%02x", $0) }.joined()
    forms += [Data(hex.utf8), Data(hex.uppercased().utf8)]
    for shift in 0..<3 {
        let padded = String(repeating: "\u{0}", count: shift) + secret
        let encoded = Data(padded.utf8).base64EncodedString()
        // Skip the characters that depend on the neighbouring bytes.
        let stable = encoded.dropFirst(shift == 0 ? 0 : 4).dropLast(4)
        if stable.count >= 8 { forms.append(Data(stable.utf8)) }
    }
    return forms
}

@Suite("Client store")
struct ClientStoreTests {
    let now: Int64 = 1_795_000_000_000

    @Test("a measurement round-trips and is queued in the same transaction")
    func addAndRead() throws {
        let fixture = try StoreFixture()
        let record = fixture.weight("82.40", at: now, note: "after breakfast")
        try fixture.store.add(record, now: now)
        #expect(try fixture.store.measurement(id: record.id) == record)
        #expect(try fixture.store.unsentCount() == 1)
        #expect(try fixture.store.count(kind: .bodyWeight) == 1)
        #expect(try fixture.store.count(kind: .heartRate) == 0)
    }

    @Test("a reading known only by its day (from another system) keeps that precision, sealed like the rest")
    func datePrecision() throws {
        let fixture = try StoreFixture()
        for precision in [FHIRDateTime.Precision.day, .month, .year, .time] {
            var record = fixture.weight("80", at: now)
            record.timePrecision = precision
            try fixture.store.add(record, now: now)
            #expect(try fixture.store.measurement(id: record.id)?.timePrecision == precision)
        }
    }

    @Test("unsent measurements can be edited and deleted; sent ones only withdrawn")
    func editAndDelete() throws {
        let fixture = try StoreFixture()
        var record = fixture.weight("80.0", at: now)
        try fixture.store.add(record, now: now)
        record.values = [.init(part: .bodyWeight, literal: "81.0")]
        try fixture.store.update(record, now: now + 1)
        #expect(try fixture.store.measurement(id: record.id)?.literal(.bodyWeight) == "81.0")

        try fixture.store.markSynced(id: record.id, serverID: "srv-1", version: 1, now: now + 2)
        #expect(try fixture.store.unsentCount() == 0)
        #expect(try fixture.store.measurement(id: record.id)?.serverID == "srv-1")
        #expect(throws: StoreError.alreadySent) { try fixture.store.update(record, now: now + 3) }
        #expect(try fixture.store.delete(id: record.id, now: now + 4) == false)
        #expect(try fixture.store.measurement(id: record.id)?.syncState == .withdrawn)
        #expect(try fixture.store.unsentCount() == 1)

        let draft = fixture.weight("79.0", at: now)
        try fixture.store.add(draft, now: now)
        #expect(try fixture.store.delete(id: draft.id, now: now) == true)
        #expect(try fixture.store.measurement(id: draft.id) == nil)
        #expect(try fixture.store.unsentCount() == 1)
        #expect(throws: StoreError.notFound) { try fixture.store.delete(id: draft.id, now: now) }
    }

    @Test("history pages newest first by kind, without gaps or repeats")
    func paging() throws {
        let fixture = try StoreFixture()
        for index in 0..<230 {
            try fixture.store.add(fixture.weight("80.\(index % 10)", at: now - Int64(index / 2) * 60_000), now: now)
            let pulse = MeasurementRecord(
                id: UUID().uuidString.lowercased(), kind: .heartRate, values: [.init(part: .heartRate, literal: "70")],
                effectiveAt: now - Int64(index) * 60_000, utcOffsetSeconds: 0)
            try fixture.store.add(pulse, now: now)
        }
        var cursor: HistoryCursor?
        var seen: [MeasurementRecord] = []
        while true {
            let page = try fixture.store.measurements(kind: .bodyWeight, after: cursor, limit: 50)
            guard let last = page.last else { break }
            seen += page
            cursor = HistoryCursor(after: last)
        }
        #expect(seen.count == 230)
        #expect(Set(seen.map(\.id)).count == 230)
        #expect(seen.allSatisfy { $0.kind == .bodyWeight })
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.effectiveAt >= $1.effectiveAt })
        #expect(try fixture.store.measurements(kind: nil, limit: 1000).count == 460)
    }

    @Test("no sentinel note or value reaches any file, in any encoding")
    func sentinelNeverOnDisk() throws {
        let fixture = try StoreFixture()
        let note = "SENTINEL-NOTE-5b1e-swollen-ankles"
        let value = "173.19"
        try fixture.store.add(fixture.weight(value, at: now, note: note), now: now)
        try fixture.store.saveProfile(["email": "sentinel.patient@example.org", "token": "SENTINEL-TOKEN-0f9c2a7d"])
        for index in 0..<50 { try fixture.store.add(fixture.weight("80.\(index)", at: now - Int64(index), note: note), now: now) }
        for secret in [note, value, "sentinel.patient@example.org", "SENTINEL-TOKEN-0f9c2a7d", "29463-7", "weight"] {
            for form in encodings(of: secret) {
                for (name, bytes) in try fixture.allBytes() {
                    #expect(bytes.range(of: form) == nil, "\(secret) found in \(name)")
                }
            }
        }
        #expect(try fixture.store.measurements(kind: .bodyWeight, limit: 1).first?.note == note)
    }

    @Test("files are 0600")
    func modes() throws {
        let fixture = try StoreFixture()
        try fixture.store.add(fixture.weight("80", at: now), now: now)
        for (name, _) in try fixture.allBytes() {
            let mode = try FileManager.default.attributesOfItem(atPath: fixture.directory.appendingPathComponent(name).path)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(name)")
        }
    }

    @Test("a tampered or relocated sealed value fails to open instead of showing garbage")
    func tampering() throws {
        let fixture = try StoreFixture()
        let first = fixture.weight("80.1", at: now)
        let second = fixture.weight("90.2", at: now - 1)
        try fixture.store.add(first, now: now)
        try fixture.store.add(second, now: now)
        try fixture.store.pool.write { db in
            try db.execute(sql: "UPDATE measurement SET payload = (SELECT payload FROM measurement WHERE id = ?) WHERE id = ?", arguments: [first.id, second.id])
        }
        #expect(throws: StoreError.vault(.tampered("measurement.payload"))) { try fixture.store.measurement(id: second.id) }
        try fixture.store.pool.write { db in
            var payload = try Data.fetchOne(db, sql: "SELECT payload FROM measurement WHERE id = ?", arguments: [first.id]) ?? Data()
            payload[20] ^= 0x40
            try db.execute(sql: "UPDATE measurement SET payload = ? WHERE id = ?", arguments: [payload, first.id])
        }
        #expect(throws: StoreError.vault(.tampered("measurement.payload"))) { try fixture.store.measurement(id: first.id) }
    }

    @Test("settings (last sync, clock offset, pull cursor, the server's tag) are sealed; a clear one from before is still read")
    func sealedSettings() throws {
        let fixture = try StoreFixture()
        try fixture.store.setSetting("lastSync", "1768469400123")
        try fixture.store.setSetting("tasks.etag", "W/\"417\"")
        #expect(try fixture.store.setting("lastSync") == "1768469400123")
        #expect(try fixture.store.setting("tasks.etag") == "W/\"417\"")
        let stored = try fixture.store.pool.read { db in try Data.fetchAll(db, sql: "SELECT value FROM setting") }
        #expect(stored.count == 2)
        #expect(!stored.contains { $0.range(of: Data("1768469400123".utf8)) != nil || $0.range(of: Data("417".utf8)) != nil })
        // Moved to another key, a sealed value fails to open.
        try fixture.store.pool.write { db in
            try db.execute(sql: "UPDATE setting SET value = (SELECT value FROM setting WHERE key = 'lastSync') WHERE key = 'tasks.etag'")
        }
        #expect(throws: StoreError.vault(.tampered("setting.value"))) { try fixture.store.setting("tasks.etag") }
        // Written in clear by an older version: still read.
        try fixture.store.pool.write { db in try db.execute(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES ('cursor', '42')") }
        #expect(try fixture.store.setting("cursor") == "42")
        try fixture.store.setSetting("cursor", nil)
        #expect(try fixture.store.setting("cursor") == nil)
    }

    @Test("a locked vault reads nothing")
    func locked() throws {
        let fixture = try StoreFixture()
        let record = fixture.weight("80.1", at: now)
        try fixture.store.add(record, now: now)
        fixture.vault.lock()
        #expect(throws: StoreError.vault(.locked)) { try fixture.store.measurement(id: record.id) }
        #expect(throws: StoreError.vault(.locked)) { try fixture.store.add(fixture.weight("1", at: now), now: now) }
    }
}

@Suite("One process per data directory")
struct DataDirectoryLockTests {
    @Test("a second claim is refused with the holder's process id; released, it can be taken again; the lock is inside the directory")
    func lock() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)/default")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        var first: DataDirectoryLock? = try DataDirectoryLock.acquire(for: directory)
        #expect(first?.path == directory.appendingPathComponent(OwnedDirectory.lockName).path)
        #expect(throws: StoreError.inUse(pid: getpid(), lockFile: DataDirectoryLock.lockPath(for: directory))) {
            _ = try DataDirectoryLock.acquire(for: directory)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.deletingLastPathComponent().path) == ["default"],
            "nothing beside the directory")
        first = nil
        #expect(throws: Never.self) { _ = try DataDirectoryLock.acquire(for: directory) }
    }

    @Test("a link in the lock file's place is refused, never followed")
    func lockLink() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)")
        let directory = root.appendingPathComponent("default")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let target = root.appendingPathComponent("precious.txt")
        try Data("precious".utf8).write(to: target)
        #expect(symlink(target.path, DataDirectoryLock.lockPath(for: directory)) == 0)
        #expect(throws: StoreError.self) { _ = try DataDirectoryLock.acquire(for: directory) }
        #expect(try String(contentsOf: target, encoding: .utf8) == "precious", "the link's target is untouched")
    }
}
