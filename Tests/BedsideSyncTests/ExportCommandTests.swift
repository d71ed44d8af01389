import BedsideCore
import BedsideServerKit
import BedsideTestSupport
import Foundation
import Testing

/// `bedside export` with the real binary: the patient's own data to a file only they can read, written
/// only after the password was right, never over an existing file.
@Suite("bedside export")
struct ExportCommandTests {
    @Test("CSV and FHIR exports of what this computer holds: a 0600 file, the documented header and rows, a collection Bundle; a wrong password writes nothing; an existing file is never overwritten")
    func exports() async throws {
        let server = try await LoopbackServer()
        _ = try await server.addPatient(KillDuringSyncTests.email, name: "Kim Export")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString)")
        let device = KillDuringSyncTests.Device(root: root, server: server, url: server.url, timeZone: "Europe/Amsterdam")
        defer { try? FileManager.default.removeItem(at: root) }
        do {
            try await offPool { try device.login() }
            #expect(try device.run(["measure", "add", "blood-pressure", "135/85", "--at", "2026-11-20 08:15"]) == 0)
            #expect(try device.run(["measure", "add", "weight", "82.4", "--at", "2026-11-21 07:30", "--note", "=cmd, after \"breakfast\""]) == 0)

            let csvPath = root.appendingPathComponent("mine.csv").path
            let csv = try await offPool { try device.start(["export", "--format", "csv", "--output", csvPath]).finish() }
            #expect(csv.status == 0, "\(csv.errors)")
            let mode = try FileManager.default.attributesOfItem(atPath: csvPath)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let text = try String(contentsOfFile: csvPath, encoding: .utf8)
            let lines = text.components(separatedBy: "\r\n")
            #expect(lines.first == "time,kind,code,value,unit,value2,unit2,note,state")
            #expect(lines.count == 4 && lines.last == "", "\(text)")
            #expect(lines[1] == "2026-11-20T08:15:00+01:00,blood-pressure,85354-9,135,mm[Hg],85,mm[Hg],,pending", "\(lines[1])")
            #expect(lines[2] == "2026-11-21T07:30:00+01:00,weight,29463-7,82.4,kg,,,\"'=cmd, after \"\"breakfast\"\"\",pending", "\(lines[2])")

            let fhirPath = root.appendingPathComponent("mine.json").path
            let fhir = try await offPool { try device.start(["export", "--format", "fhir", "--output", fhirPath]).finish() }
            #expect(fhir.status == 0, "\(fhir.errors)")
            let bundle = try #require(JSONParser.parseOrNil(Array(try Data(contentsOf: URL(fileURLWithPath: fhirPath)))))
            #expect(bundle["resourceType"]?.stringValue == "Bundle" && bundle["type"]?.stringValue == "collection")
            let resources = (bundle["entry"]?.arrayValue ?? []).compactMap { $0["resource"] }
            #expect(resources.map { $0["resourceType"]?.stringValue } == ["Observation", "Observation"])
            #expect(resources.last?["note"]?.arrayValue?.first?["text"]?.stringValue == "=cmd, after \"breakfast\"", "the note as typed")

            // An existing file: refused before the password is even asked, and left as it was.
            let again = try await offPool { try device.start(["export", "--format", "csv", "--output", csvPath]).finish() }
            #expect(again.status == 64 || again.status == 2, "\(again.status)")
            #expect(try String(contentsOfFile: csvPath, encoding: .utf8) == text)

            // A wrong password: exit 3 and no file.
            let wrongPath = root.appendingPathComponent("wrong.csv").path
            let process = device.process(["export", "--format", "csv", "--output", wrongPath, "--password-stdin"])
            let stdin = Pipe()
            process.standardInput = stdin
            try process.run()
            stdin.fileHandleForWriting.write(Data("not-the-password\n".utf8))
            try stdin.fileHandleForWriting.close()
            try await offPool { process.waitUntilExit() }
            #expect(process.terminationStatus == 3)
            #expect(!FileManager.default.fileExists(atPath: wrongPath))
        } catch {
            Issue.record("\(error)")
        }
        await server.stop()
    }
}
