import Foundation
import Testing

@testable import BedsideVault

/// Bedside removes only the files it created, in a directory it marked as its own, and never follows a link.
@Suite("Owned data directories")
struct OwnedDirectoryTests {
    let sentinel = Data(String(repeating: "SENTINEL-", count: 100).utf8)

    func scratch() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("owned-\(UUID().uuidString)")
    }

    func names(_ directory: URL) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: directory.path))
    }

    @Test("a new directory is made and marked; an empty one, or one with only Bedside's files, is adopted")
    func claimNewAndEmpty() throws {
        let root = scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let fresh = root.appendingPathComponent("data/default")
        try OwnedDirectory.claim(fresh)
        #expect(try names(fresh) == [OwnedDirectory.markerName])
        #expect(try FileManager.default.attributesOfItem(atPath: fresh.path)[.posixPermissions] as? Int == 0o700)

        let empty = root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try OwnedDirectory.claim(empty)
        #expect(OwnedDirectory.isMarked(empty))

        // A directory from before markers existed: only Bedside's own names in it.
        let older = root.appendingPathComponent("older")
        try FileManager.default.createDirectory(at: older, withIntermediateDirectories: true)
        try sentinel.write(to: older.appendingPathComponent(OwnedDirectory.keyFileName))
        try sentinel.write(to: older.appendingPathComponent(OwnedDirectory.databaseName))
        try OwnedDirectory.claim(older)
        #expect(OwnedDirectory.isMarked(older))
    }

    @Test("a directory holding anything else (~/Documents) is refused, and nothing in it is touched")
    func refuseForeign() throws {
        let root = scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let documents = root.appendingPathComponent("Documents")
        try FileManager.default.createDirectory(at: documents, withIntermediateDirectories: true)
        try sentinel.write(to: documents.appendingPathComponent("thesis.docx"))
        try sentinel.write(to: documents.appendingPathComponent(OwnedDirectory.keyFileName))
        chmod(documents.path, 0o755)
        #expect(throws: VaultError.notBedsideDirectory(documents.path)) { try OwnedDirectory.claim(documents) }
        #expect(throws: VaultError.notBedsideDirectory(documents.path)) { try OwnedDirectory.destroyContents(documents) }
        #expect(try names(documents) == ["thesis.docx", OwnedDirectory.keyFileName])
        #expect(try Data(contentsOf: documents.appendingPathComponent("thesis.docx")) == sentinel)
        #expect(try Data(contentsOf: documents.appendingPathComponent(OwnedDirectory.keyFileName)) == sentinel)
        #expect(try FileManager.default.attributesOfItem(atPath: documents.path)[.posixPermissions] as? Int == 0o755, "not even its mode")
    }

    @Test("destroying removes Bedside's files, the wrapped key first; other files stay; links are removed, never followed")
    func destroyOnlyOwnFilesAndNoLinks() throws {
        let root = scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("default")
        try OwnedDirectory.claim(directory)
        let outside = root.appendingPathComponent("precious.txt")
        try sentinel.write(to: outside)
        let outsideDirectory = root.appendingPathComponent("precious")
        try FileManager.default.createDirectory(at: outsideDirectory, withIntermediateDirectories: true)
        try sentinel.write(to: outsideDirectory.appendingPathComponent("inside.txt"))

        try SecureFiles.writePrivate(sentinel, to: directory.appendingPathComponent(OwnedDirectory.keyFileName))
        try SecureFiles.writePrivate(sentinel, to: directory.appendingPathComponent(OwnedDirectory.databaseName + "-wal"))
        // Links where Bedside's files would be, and a link to a directory: the links go, their targets stay.
        #expect(symlink(outside.path, directory.appendingPathComponent(OwnedDirectory.databaseName).path) == 0)
        #expect(symlink(outsideDirectory.path, directory.appendingPathComponent("cache").path) == 0)
        try sentinel.write(to: directory.appendingPathComponent("notes-by-the-user.txt"))

        try OwnedDirectory.destroyContents(directory)
        #expect(try names(directory) == ["notes-by-the-user.txt", "cache"])
        #expect(try Data(contentsOf: outside) == sentinel, "a link is never followed")
        #expect(try Data(contentsOf: outsideDirectory.appendingPathComponent("inside.txt")) == sentinel)
    }

    @Test("the wrapped key is destroyed before anything else, so a failure later still leaves nothing readable")
    func keyFirst() throws {
        let root = scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("default")
        try OwnedDirectory.claim(directory)
        try SecureFiles.writePrivate(sentinel, to: directory.appendingPathComponent(OwnedDirectory.keyFileName))
        try SecureFiles.writePrivate(sentinel, to: directory.appendingPathComponent(OwnedDirectory.databaseName))
        // Something where the database's -shm should be that cannot be removed as a file.
        let blocker = directory.appendingPathComponent(OwnedDirectory.databaseName + "-shm")
        try FileManager.default.createDirectory(at: blocker, withIntermediateDirectories: true)
        try sentinel.write(to: blocker.appendingPathComponent("x"))
        #expect(throws: VaultError.self) { try OwnedDirectory.destroyContents(directory) }
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent(OwnedDirectory.keyFileName).path))
        #expect(OwnedDirectory.isMarked(directory), "still Bedside's, so logging out again can finish the job")
    }

    @Test("a data directory that is a link, or cannot be read, is a clear failure, not a silent success")
    func unreadable() throws {
        let root = scratch()
        defer {
            chmod(root.appendingPathComponent("locked").path, 0o700)
            try? FileManager.default.removeItem(at: root)
        }
        let real = root.appendingPathComponent("real")
        try OwnedDirectory.claim(real)
        let link = root.appendingPathComponent("link")
        #expect(symlink(real.path, link.path) == 0)
        #expect(throws: VaultError.self) { try OwnedDirectory.destroyContents(link) }
        #expect(throws: VaultError.self) { try OwnedDirectory.claim(link) }
        if getuid() != 0 {
            // (root reads any directory, so this half runs only for other users)
            let locked = root.appendingPathComponent("locked")
            try OwnedDirectory.claim(locked)
            try SecureFiles.writePrivate(sentinel, to: locked.appendingPathComponent(OwnedDirectory.keyFileName))
            chmod(locked.path, 0)
            #expect(throws: VaultError.self) { try OwnedDirectory.destroyContents(locked) }
        }
    }
}
