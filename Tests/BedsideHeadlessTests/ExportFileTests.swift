import Foundation
import Testing

@testable import BedsideApp

/// The writer every export uses: a new 0600 file, there whole or not at all, never over another.
@Suite("Export file")
struct ExportFileTests {
    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("export-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        return url
    }

    static func names(_ url: URL) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted() }

    @Test("written to a hidden temporary name, linked into place only when complete, 0600; the temporary name goes")
    func complete() throws {
        let folder = try Self.directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("mine.csv").path
        let file = try ExportFile(creating: path)
        try file.write(Array("time,kind\r\n".utf8))
        #expect(!FileManager.default.fileExists(atPath: path), "nothing under the name while it is written")
        let temporary = Self.names(folder)
        #expect(temporary.count == 1 && temporary.first?.hasPrefix(".mine.csv.") == true && temporary.first?.hasSuffix(".part") == true, "\(temporary)")
        try file.commit()
        #expect(Self.names(folder) == ["mine.csv"])
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "time,kind\r\n")
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
    }

    @Test("a name taken before or while it is written is never replaced, and no temporary file is left")
    func neverReplaces() throws {
        let folder = try Self.directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("mine.json").path
        try Data("theirs".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: ExportFileError.exists(path: path)) { try ExportFile(creating: path) }

        let late = folder.appendingPathComponent("late.json").path
        let file = try ExportFile(creating: late)
        try file.write(Array("ours".utf8))
        try Data("theirs".utf8).write(to: URL(fileURLWithPath: late))
        #expect(throws: ExportFileError.exists(path: late)) { try file.commit() }
        #expect(try String(contentsOfFile: late, encoding: .utf8) == "theirs")
        #expect(Self.names(folder) == ["late.json", "mine.json"], "\(Self.names(folder))")
    }

    @Test("abandoned (a failure on the way), it leaves nothing at all")
    func abandoned() throws {
        let folder = try Self.directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = try ExportFile(creating: folder.appendingPathComponent("mine.csv").path)
        try file.write(Array("half".utf8))
        file.abandon()
        #expect(Self.names(folder).isEmpty)
        #expect(throws: ExportFileError.self) { try ExportFile(creating: folder.appendingPathComponent("no/such/dir.csv").path) }
    }

    @Test("~/ is the home directory; anything else is taken as written")
    func home() {
        #expect(PatientRuntime.expandingHome("~/x.csv", home: "/home/kim") == "/home/kim/x.csv")
        #expect(PatientRuntime.expandingHome("/tmp/~/x.csv", home: "/home/kim") == "/tmp/~/x.csv")
        #expect(PatientRuntime.expandingHome("~other/x.csv", home: "/home/kim") == "~other/x.csv")
    }
}
