import Foundation
import Testing

@testable import BedsideVault

@Suite("Key vault")
struct KeyVaultTests {
    let password = "lantern-orbit-meadow-42"

    @Test("a wrapped key unlocks with its password and fails the tag check with any other")
    func unlock() throws {
        let (vault, wrapped) = try KeyVault.create(password: password, parameters: .testing)
        let sealed = try vault.seal("72.5", table: "measurement", rowID: "r1", column: "value")
        let reopened = try KeyVault.unlock(wrapped, password: password)
        #expect(try reopened.openString(sealed, table: "measurement", rowID: "r1", column: "value") == "72.5")
        #expect(throws: VaultError.wrongPassword) { try KeyVault.unlock(wrapped, password: "lantern-orbit-meadow-43") }
        #expect(throws: VaultError.wrongPassword) { try KeyVault.unlock(wrapped, password: "") }
    }

    @Test("the key file stores parameters and salt, never the key or the password")
    func keyFile() throws {
        let (_, wrapped) = try KeyVault.create(password: password, parameters: .testing)
        let text = String(decoding: try wrapped.encoded(), as: UTF8.self)
        #expect(text.contains("\"logN\":10"))
        #expect(!text.contains(password))
        #expect(try WrappedKey.decode(try wrapped.encoded()) == wrapped)
        #expect(throws: VaultError.self) { try WrappedKey.decode(Data("{}".utf8)) }
        var hostile = wrapped
        hostile.kdf = KDFParameters(logN: 40, r: 8, p: 1)
        #expect(throws: VaultError.corruptKeyFile("implausible key-derivation parameters")) { try WrappedKey.decode(try hostile.encoded()) }
    }

    @Test("a password change re-wraps the same data key")
    func rewrap() throws {
        let (vault, old) = try KeyVault.create(password: password, parameters: .testing)
        let sealed = try vault.seal("note", table: "t", rowID: "r", column: "c")
        let new = try vault.rewrap(newPassword: "quiet-harbour-lamp-17", parameters: .testing)
        #expect(new.salt != old.salt)
        let reopened = try KeyVault.unlock(new, password: "quiet-harbour-lamp-17")
        #expect(try reopened.openString(sealed, table: "t", rowID: "r", column: "c") == "note")
        #expect(throws: VaultError.wrongPassword) { try KeyVault.unlock(new, password: password) }
    }

    @Test("changing any byte of a sealed value gives an authentication error, not garbage")
    func tamper() throws {
        let (vault, _) = try KeyVault.create(password: password, parameters: .testing)
        let sealed = try vault.seal("Short of breath at night", table: "measurement", rowID: "r1", column: "note")
        #expect(sealed.count == 12 + 24 + 16)
        for index in sealed.indices {
            var altered = sealed
            altered[index] ^= 0x01
            #expect(throws: VaultError.tampered("measurement.note")) {
                try vault.open(altered, table: "measurement", rowID: "r1", column: "note")
            }
        }
        #expect(throws: VaultError.self) { try vault.open(Array(sealed.prefix(20)), table: "measurement", rowID: "r1", column: "note") }
    }

    @Test("a sealed value copied to another row, column or table fails to open")
    func boundToPlace() throws {
        let (vault, _) = try KeyVault.create(password: password, parameters: .testing)
        let sealed = try vault.seal("120/80", table: "measurement", rowID: "r1", column: "value")
        #expect(throws: VaultError.self) { try vault.open(sealed, table: "measurement", rowID: "r2", column: "value") }
        #expect(throws: VaultError.self) { try vault.open(sealed, table: "measurement", rowID: "r1", column: "note") }
        #expect(throws: VaultError.self) { try vault.open(sealed, table: "draft", rowID: "r1", column: "value") }
        let (other, _) = try KeyVault.create(password: password, parameters: .testing)
        #expect(throws: VaultError.self) { try other.open(sealed, table: "measurement", rowID: "r1", column: "value") }
    }

    @Test("nonces never repeat, and equal values seal differently")
    func nonces() throws {
        let (vault, _) = try KeyVault.create(password: password, parameters: .testing)
        var seen = Set<[UInt8]>()
        for _ in 0..<20_000 {
            let sealed = try vault.seal("same", table: "t", rowID: "r", column: "c")
            #expect(seen.insert(Array(sealed.prefix(12))).inserted)
        }
        #expect(seen.count == 20_000)
    }

    @Test("a locked vault seals, opens and indexes nothing")
    func locking() throws {
        let (vault, _) = try KeyVault.create(password: password, parameters: .testing)
        let sealed = try vault.seal("x", table: "t", rowID: "r", column: "c")
        #expect(vault.isUnlocked)
        vault.lock()
        #expect(!vault.isUnlocked)
        #expect(throws: VaultError.locked) { try vault.seal("x", table: "t", rowID: "r", column: "c") }
        #expect(throws: VaultError.locked) { try vault.open(sealed, table: "t", rowID: "r", column: "c") }
        #expect(throws: VaultError.locked) { try vault.blindIndex("weight", domain: "kind") }
        #expect(throws: VaultError.locked) { try vault.rewrap(newPassword: "quiet-harbour-lamp-17", parameters: .testing) }
        vault.lock()  // twice is harmless
    }

    @Test("blind indexes are stable per vault and domain, and differ between vaults")
    func blindIndexes() throws {
        let (vault, wrapped) = try KeyVault.create(password: password, parameters: .testing)
        let weight = try vault.blindIndex("weight", domain: "kind")
        #expect(weight.count == 16)
        #expect(try KeyVault.unlock(wrapped, password: password).blindIndex("weight", domain: "kind") == weight)
        #expect(try vault.blindIndex("heart-rate", domain: "kind") != weight)
        #expect(try vault.blindIndex("weight", domain: "other") != weight)
        let (other, _) = try KeyVault.create(password: password, parameters: .testing)
        #expect(try other.blindIndex("weight", domain: "kind") != weight)
    }
}

@Suite("Process and files")
struct SecureFilesTests {
    @Test("the process is not dumpable and makes no core files")
    func hardening() {
        #expect(ProcessHardening.apply())
        #expect(!ProcessHardening.isDumpable)
        #expect(ProcessHardening.coreLimit == 0)
    }

    @Test("private files are 0600 in 0700 directories; shredding overwrites before deleting")
    func files() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vault-files-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("data/default")
        try SecureFiles.makePrivateDirectory(directory)
        #expect(try FileManager.default.attributesOfItem(atPath: directory.path)[.posixPermissions] as? Int == 0o700)
        let file = directory.appendingPathComponent("vault.key")
        let sentinel = Data(String(repeating: "SENTINEL-", count: 100).utf8)
        try SecureFiles.writePrivate(sentinel, to: file)
        #expect(try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int == 0o600)

        // A second name for the same inode shows what shredding did to the bytes themselves.
        let witness = root.appendingPathComponent("witness")
        #expect(link(file.path, witness.path) == 0)
        try SecureFiles.shred(file)
        #expect(!FileManager.default.fileExists(atPath: file.path))
        let after = try Data(contentsOf: witness)
        #expect(after.count == sentinel.count)
        #expect(after.range(of: Data("SENTINEL".utf8)) == nil)

        try SecureFiles.writePrivate(sentinel, to: directory.appendingPathComponent("a.sqlite"))
        try SecureFiles.makePrivateDirectory(directory.appendingPathComponent("cache"))
        try SecureFiles.writePrivate(sentinel, to: directory.appendingPathComponent("cache/x"))
        try SecureFiles.emptyDirectory(directory)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}
