@testable import BedsideApp
import BedsideCore
@testable import BedsideServerKit
import BedsideTestSupport
import Foundation
import Logging
import Testing

@testable import BedsideHeadless

/// An invited patient's first login in the app: F2 on the login screen, the code from the invitation,
/// a password twice; wrong codes and differing passwords are said plainly and change nothing.
@Suite("Enrolment in the app", .serialized)
struct EnrolJourneyTests {
    @Test("F2 turns the login into enrolment: a wrong code is refused, two different passwords too, then the right code logs the patient in")
    func enrolInTheApp() async throws {
        let server = try await journeyServer()
        let email = "anneke@example.org"
        // As an EMR's Patient with an e-mail would: an account without a password, and an invitation mailed.
        let account = Account(
            id: UUID().uuidString.lowercased(), email: email, role: .patient, passwordHash: "", displayName: "Anneke Visser",
            patientID: UUID().uuidString.lowercased(), createdAt: server.clock.now())
        let patient = FHIRService.stamp(
            ["resourceType": "Patient", "name": [["text": "Anneke Visser"]], "telecom": [["system": "email", "value": .string(email)]]],
            type: .patient, id: account.patientID ?? "", version: 1, at: server.clock.now())
        try await server.store.write { db in
            try db.put(patient)
            try db.insert(account)
        }
        let invitations = Invitations(
            store: server.store, clock: server.clock, mailer: MaildirMailer(directory: server.directory.appendingPathComponent("mail")),
            logger: Logger(label: "test"))
        #expect(await invitations.invite(account, actor: AuditEvent(at: 0, actorID: "test", actorRole: "system", action: "invite", outcome: "success", httpStatus: 201, remoteAddress: nil, request: nil)))
        let code = try #require(server.latestEnrolmentCode(for: email))
        let client = JourneyClient(server: server, email: email, password: "unused")
        let result = await client.runner.run(try ScriptParser.parse("""
            press F2
            expect "Enrol"
            expect "Enrolment code"
            type "\(email)"
            press Tab
            type "AAAA-BBBB-CCCC"
            press Tab
            type "lantern-orbit-meadow-42"
            press Tab
            type "lantern-orbit-meadow-42"
            press Enter
            expect "The enrolment code is not right"
            press End
            press Backspace Backspace Backspace Backspace Backspace Backspace Backspace Backspace Backspace Backspace Backspace Backspace Backspace Backspace
            type "\(code)"
            press Tab
            type "lantern-orbit-meadow-42"
            press Tab
            type "lantern-orbit-meadow-43"
            press Enter
            expect "The two passwords differ"
            type "lantern-orbit-meadow-42"
            press Tab
            type "lantern-orbit-meadow-42"
            press Enter
            expect "Today"
            """, name: "enrol"))
        if result.failed > 0 { Issue.record("\(client.output.joined(separator: "\n"))") }
        #expect(try await server.store.read { db in try db.account(email: email) }?.passwordHash.isEmpty == false)
        await client.core.lock()
        await server.stop()
    }
}
