import BedsideCore
import Foundation
import Testing

@testable import BedsideServerKit

/// `patient end-care`, `retention` and `patient erase` as an operator runs them: exit codes, one sentence
/// when something is refused, and nothing changed then.
@Suite("Retention commands of the real bedside-server")
struct RetentionProcessTests {
    static let password = "correct-horse-battery-9"


    @Test("end-care, a dry run that changes nothing, refusals that change nothing, then --apply and patient erase; the audit chain stays intact")
    func operatorJourney() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-retention-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = ["--data-dir", root + "/data"]
        for email in ["ended@example.org", "in.care@example.org", "forget.me@example.org"] {
            let added = try await ServerExecutable.run(["user", "add", "--role", "patient", "--email", email, "--password-stdin"] + data, input: Self.password + "\n")
            #expect(added.status == 0, "\(added.error)")
        }
        func accounts() async throws -> String { try await ServerExecutable.run(["user", "list"] + data).output }

        let future = try await ServerExecutable.run(["patient", "end-care", "--email", "ended@example.org", "--date", "2999-01-01"] + data)
        #expect(future.status == 64 && future.error.contains("cannot be in the future"), "\(future.error)")
        let both = try await ServerExecutable.run(["patient", "end-care", "--email", "ended@example.org", "--patient", "x"] + data)
        #expect(both.status == 64 && both.error.contains("either --email or --patient"))
        let traversal = try await ServerExecutable.run(["patient", "erase", "--patient", "../../etc", "--export-dir", root + "/out"] + data)
        #expect(traversal.status == 64 && traversal.error.contains("There is no Patient/../../etc"), "\(traversal.error)")
        let ended = try await ServerExecutable.run(["patient", "end-care", "--email", "ended@example.org", "--date", "2021-06-30"] + data)
        #expect(ended.status == 0 && ended.output.contains("ended on 2021-06-30"), "\(ended.error)")
        let patientID = try #require(ended.output.firstMatch(of: /Patient\/([0-9a-f-]+)/).map { String($0.1) })

        let dryRun = try await ServerExecutable.run(["retention"] + data)
        #expect(dryRun.status == 0)
        #expect(dryRun.output.contains("1 patient whose care ended before") && dryRun.output.contains("Patient/\(patientID) ended@example.org"))
        #expect(try await accounts().contains("ended@example.org"), "a dry run changes nothing")

        let noDirectory = try await ServerExecutable.run(["retention", "--apply"] + data)
        #expect(noDirectory.status == 64 && noDirectory.error.contains("--apply needs --export-dir"))
        let blocker = root + "/not-a-directory"
        #expect(FileManager.default.createFile(atPath: blocker, contents: Data("x".utf8)))
        let unwritable = try await ServerExecutable.run(["retention", "--apply", "--export-dir", blocker] + data)
        #expect(unwritable.status == 1 && unwritable.output.contains("run stopped") && unwritable.output.contains("cannot be created"), "\(unwritable.output)")
        #expect(!unwritable.error.contains("Usage"), "a failure, not a usage mistake")
        #expect(try await accounts().contains("ended@example.org"), "nothing erased when the hand-over cannot be written")

        let applied = try await ServerExecutable.run(["retention", "--apply", "--export-dir", root + "/out"] + data)
        #expect(applied.status == 0, "\(applied.error)")
        #expect(applied.output.contains("1 patient whose care ended before"))
        let manifest = root + "/out/\(patientID)/manifest.json"
        #expect(FileManager.default.fileExists(atPath: manifest))
        #expect(FileManager.default.fileExists(atPath: root + "/out/\(patientID)/Patient.ndjson"))
        var listed = try await accounts()
        #expect(!listed.contains("ended@example.org") && listed.contains("in.care@example.org") && listed.contains("forget.me@example.org"))

        let forgotten = try await ServerExecutable.run(["patient", "erase", "--email", "forget.me@example.org", "--export-dir", root + "/out"] + data)
        #expect(forgotten.status == 0 && forgotten.output.contains("handed over to"), "\(forgotten.error)")
        listed = try await accounts()
        #expect(!listed.contains("forget.me@example.org") && listed.contains("in.care@example.org"))
        let again = try await ServerExecutable.run(["patient", "erase", "--email", "forget.me@example.org", "--export-dir", root + "/out"] + data)
        #expect(again.status == 64 && again.error.contains("There is no patient account"))

        let audit = try await ServerExecutable.run(["audit", "--action", "erase"] + data)
        #expect(audit.output.components(separatedBy: "\n").filter { $0.contains(" erase ") }.count == 2, "\(audit.output)")
        let verified = try await ServerExecutable.run(["audit", "verify"] + data)
        #expect(verified.status == 0, "\(verified.output) \(verified.error)")

        let halfSchedule = try await ServerExecutable.run(["serve", "--dev-tls", "--retention-years", "2"] + data)
        #expect(halfSchedule.status == 64 && halfSchedule.error.contains("both --retention-years and --retention-export-dir"))
    }
}
