@testable import BedsideApp
import BedsideCore
@testable import BedsideServerKit
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideHeadless

/// The clinician kiosk against the real server: the queue, triage written with If-Match, two nurses on
/// one alert, the idle lock, and a data directory that never holds anything.
@Suite("Clinician kiosk", .serialized)
struct KioskTests {
    static let nursePassword = "kiosk-lantern-orbit-42"

    /// A server with a patient in Nurse Anna's (and Nurse Ben's) care team, and a red PHQ-9 alert raised
    /// the way it is in real life: the patient's answers arrive and the server's rule raises it.
    static func serverWithAlert() async throws -> (JourneyServer, flagID: String) {
        let server = try await journeyServer()
        let patient = try await server.administration.addUser(
            email: "ruth@example.org", role: .patient, password: "patient-lantern-orbit-42", name: "Ruth Example")
        for (email, name) in [("anna@example.org", "Nurse Anna"), ("ben@example.org", "Nurse Ben")] {
            _ = try await server.administration.addUser(email: email, role: .clinician, password: nursePassword, name: name)
            try await server.administration.addTeamMember(clinicianEmail: email, patientEmail: "ruth@example.org")
        }
        let patientID = try #require(patient.patientID)
        // A Flag as the PHQ-9 rule makes it.
        let alert = Alert(
            rule: "phq9", priority: .red, summary: "PHQ-9 total 17 (≥ 15)", reasons: ["PHQ-9 total 17 (≥ 15)", "PHQ-9 item 9 answered 1"],
            code: AnswerValue.Coding(system: "http://loinc.org", code: "44261-6", display: "PHQ-9 total score 17"))
        let flag = FlagBuilder.flag(for: alert, patientID: patientID, trigger: "QuestionnaireResponse/x", at: server.clock.now() - 3_600_000)
        let flagID = UUID().uuidString.lowercased()
        try await server.store.write { db in try db.put(FHIRService.stamp(flag, type: .flag, id: flagID, version: 1, at: server.clock.now())) }
        return (server, flagID)
    }

    /// Observations and Flags written straight into the server's store, as of `now`.
    static func store(_ resources: [JSONValue], in server: JourneyServer, at now: Int64) async throws {
        try await server.store.write { db in
            for resource in resources {
                let type: SupportedResource = resource["resourceType"]?.stringValue == "Flag" ? .flag : .observation
                try db.put(FHIRService.stamp(resource, type: type, id: UUID().uuidString.lowercased(), version: 1, at: now))
            }
        }
    }

    func flag(_ server: JourneyServer, _ id: String) async throws -> (version: Int, json: JSONValue) {
        let stored = try #require(try await server.store.read { db in try db.resource(type: "Flag", id: id) })
        return (stored.versionID, JSONParser.parseOrNil(stored.json) ?? .null)
    }

    func run(_ client: JourneyClient, _ text: String) async throws -> Bool {
        let result = await client.runner.run(try ScriptParser.parse(text, name: "kiosk"))
        if result.failed > 0 { Issue.record("\(client.output.joined(separator: "\n"))") }
        return result.failed == 0
    }

    @Test("a nurse logs in, sees the red alert with its patient, handles it with a note; the server's Flag and audit show it")
    func handleAlert() async throws {
        let (server, flagID) = try await Self.serverWithAlert()
        let anna = JourneyClient(server: server, email: "anna@example.org", password: Self.nursePassword, kiosk: true)
        #expect(try await run(anna, credentialSteps + """
            expect "Alerts (1)"
            expect "1 red · 0 orange · 0 gray"
            expect "▲ RED"
            expect "Ruth Example"
            expect "PHQ-9 total 17"
            press Enter
            expect "• PHQ-9 item 9 answered 1"
            expect "h: handled"
            press h
            press Enter
            expect "Write why"
            type "Called Ruth; GP visit tomorrow"
            press Enter
            expect "Saved."
            expect "Alerts (0)"
            expect "No alerts here."
            press v
            press v
            expect "Ruth Example"
            """))
        let (version, json) = try await flag(server, flagID)
        #expect(version == 2)
        #expect(json["status"]?.stringValue == "inactive")
        let notes = FlagTriage.notes(json)
        #expect(notes.map(\.text) == ["Called Ruth; GP visit tomorrow"])
        #expect(notes.first?.author == "Nurse Anna" || notes.first?.author == "anna@example.org")
        #expect(ResourceValidator(now: server.clock.now()).validate(json, as: "Flag").isEmpty)
        let audit = try await server.store.read { db in try db.auditEvents(after: 0, limit: 10_000) }.map(\.event)
        #expect(audit.contains { $0.action == "update" && $0.resourceType == "Flag" && $0.resourceID == flagID && $0.actorRole == "clinician" })
        // Who decided what, and when, by name; why is the note in the version the event names.
        let decisions = audit.filter { $0.action.hasPrefix("flag-") && $0.resourceID?.hasPrefix(flagID) == true }
        #expect(decisions.map(\.action) == ["flag-handled", "flag-note"])
        #expect(decisions.allSatisfy { $0.resourceID == "\(flagID)/_history/2" && $0.actorRole == "clinician" && $0.actorID != nil })
        // Nothing of the session is on disk, before or after logging out.
        #expect(anna.files().isEmpty)
        #expect(try await run(anna, "press L\nexpect \"Logged out\""))
        #expect(anna.files().isEmpty)
        await anna.core.lock()
        await server.stop()
    }

    @Test("two nurses handle the same alert: the second sees the conflict with the first one's note, and decides")
    func conflict() async throws {
        let (server, flagID) = try await Self.serverWithAlert()
        let anna = JourneyClient(server: server, email: "anna@example.org", password: Self.nursePassword, kiosk: true)
        let ben = JourneyClient(server: server, email: "ben@example.org", password: Self.nursePassword, kiosk: true)
        let login = credentialSteps + "expect \"Alerts (1)\"\npress Enter\n"
        #expect(try await run(anna, login))
        #expect(try await run(ben, login))
        #expect(try await run(anna, "press e\ntype \"Needs the psychiatrist today\"\npress Enter\nexpect \"Saved.\"\nexpect \"[escalated]\""))
        #expect(try await run(ben, """
            press h
            type "Spoke to Ruth, fine"
            press Enter
            expect "Someone else changed this alert first"
            expect "escalated"
            expect "Needs the psychiatrist today"
            expect "Apply your change to this newer version? (y/n)"
            press n
            expect "[escalated]"
            """))
        #expect(try await flag(server, flagID).version == 2, "Ben's change was not written over Anna's")
        #expect(try await run(ben, "press n\ntype \"Saw the escalation; will follow up\"\npress Enter\nexpect \"Saved.\""))
        let (version, json) = try await flag(server, flagID)
        #expect(version == 3)
        #expect(FlagTriage.isEscalated(json))
        #expect(FlagTriage.notes(json).map(\.text) == ["Needs the psychiatrist today", "Saw the escalation; will follow up"])
        await anna.core.lock()
        await ben.core.lock()
        await server.stop()
    }

    @Test("after 2 minutes without a key the kiosk locks: no name or value on screen, the password unlocks, the queue returns")
    func idleLock() async throws {
        let (server, _) = try await Self.serverWithAlert()
        let anna = JourneyClient(server: server, email: "anna@example.org", password: Self.nursePassword, kiosk: true)
        #expect(try await run(anna, credentialSteps + """
            expect "Ruth Example"
            tick 1m
            expect "Ruth Example"
            tick 61s
            expect "Bedside is locked"
            expect-not "Ruth"
            expect-not "PHQ-9"
            type "wrong-password-1"
            press Enter
            expect "The password is not correct."
            type "${PASSWORD}"
            press Enter
            expect "Ruth Example"
            expect "Alerts (1)"
            """))
        #expect(anna.runner.terminal.clears == 1, "the loop blanked the screen when it locked, before drawing the lock screen")
        #expect(await anna.core.kiosk.session?.token != nil)
        #expect(anna.files().isEmpty)
        await anna.core.lock()
        #expect(await anna.core.kiosk.session?.token == nil, "locked: no token in clear")
        let patients = await anna.core.kiosk.session?.patients
        #expect(patients?.names.isEmpty == true && patients?.mine.isEmpty == true && patients?.contacts.isEmpty == true, "locked: no patient names or numbers")
        await server.stop()
    }

    @Test("the kiosk's lock is 2 minutes unless the config file says otherwise (1–30); a longer one is refused")
    func idleSetting() throws {
        #expect(ClientConfiguration(dataDirectory: URL(fileURLWithPath: "/tmp/x")).kioskIdleTimeout == 120_000)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kiosk-config-\(UUID().uuidString).toml")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("kiosk-idle-minutes = 5\n".utf8).write(to: file)
        #expect(try ConfigFile.load(file).kioskIdleMinutes == 5)
        try Data("kiosk-idle-minutes = 60\n".utf8).write(to: file)
        #expect(throws: ConfigError.self) { try ConfigFile.load(file) }
    }

    @Test("a patient's account cannot open the kiosk")
    func patientRefused() async throws {
        let (server, _) = try await Self.serverWithAlert()
        let ruth = JourneyClient(server: server, email: "ruth@example.org", password: "patient-lantern-orbit-42", kiosk: true)
        #expect(try await run(ruth, credentialSteps + """
            expect "The kiosk is for clinicians"
            expect-not "Alerts"
            """))
        await server.stop()
    }

    @Test("an alert shows the patient's last 30 days of that kind as a chart, and their latest answers")
    func context() async throws {
        let (server, _) = try await Self.serverWithAlert()
        let ruth = try #require(try await server.store.read { db in try db.account(email: "ruth@example.org") }?.patientID)
        let now = server.clock.now()
        let day: Int64 = 86_400_000
        var resources: [JSONValue] = []
        for (daysAgo, systolic) in [(20, 128), (10, 140), (3, 160), (1, 182)] {
            resources.append(ObservationBuilder.observation(
                kind: .bloodPressure, values: [.init(part: .systolic, value: Double(systolic)), .init(part: .diastolic, value: 85)],
                effective: FHIRDateTime.format(epochMilliseconds: now - Int64(daysAgo) * day, utcOffsetSeconds: 0), patientID: ruth,
                clientID: UUID().uuidString.lowercased()))
        }
        let alert = Alert(
            rule: "bp", priority: .red, summary: "Systolic 182 mmHg (≥ 180)", reasons: ["Systolic 182 mmHg (≥ 180)"],
            code: AnswerValue.Coding(system: "http://loinc.org", code: "8480-6", display: "Systolic blood pressure"))
        resources.append(FlagBuilder.flag(for: alert, patientID: ruth, trigger: "Observation/x", at: now))
        try await Self.store(resources, in: server, at: now)
        let anna = JourneyClient(server: server, email: "anna@example.org", password: Self.nursePassword, kiosk: true)
        #expect(try await run(anna, credentialSteps + """
            expect "Alerts (2)"
            expect "Systolic 182 mmHg"
            press Down
            press Enter
            expect "Blood pressure, last 30 days: 128–182 mmHg"
            expect "182 ┤"
            expect "128 ┤"
            expect "30 days ago"
            press Esc
            expect "Alerts (2)"
            """))
        await anna.core.lock()
        await server.stop()
    }

    @Test("an alert shows the patient's age, phone (Patient.telecom) and programme; o shows every kind's latest value and 30 days, open alerts, answers")
    func patientOverview() async throws {
        let server = try await journeyServer()
        let marie = try await server.administration.addUser(
            email: "marie@example.org", role: .patient, password: "patient-lantern-orbit-42", name: "Marie Jansen", birthDate: "1946-03-14",
            phone: "+31 6 1234 5601")
        try await server.administration.setProgramme("heart-failure", patientEmail: "marie@example.org")
        _ = try await server.administration.addUser(email: "anna@example.org", role: .clinician, password: Self.nursePassword, name: "Nurse Anna")
        try await server.administration.addTeamMember(clinicianEmail: "anna@example.org", patientEmail: "marie@example.org")
        let patientID = try #require(marie.patientID)
        let now = server.clock.now()
        let day: Int64 = 86_400_000
        func observation(_ kind: MeasurementKind, _ values: [ObservationBuilder.Value], daysAgo: Int64) -> JSONValue {
            ObservationBuilder.observation(
                kind: kind, values: values, effective: FHIRDateTime.format(epochMilliseconds: now - daysAgo * day, utcOffsetSeconds: 0),
                patientID: patientID, clientID: UUID().uuidString.lowercased())
        }
        var resources = (0..<5).map { observation(.bodyWeight, [.init(part: .bodyWeight, value: 80 + Double($0))], daysAgo: Int64(5 - $0)) }
        resources.append(observation(.bloodPressure, [.init(part: .systolic, value: 150), .init(part: .diastolic, value: 90)], daysAgo: 1))
        resources.append(observation(.bodyTemperature, [.init(part: .bodyTemperature, value: 37.2)], daysAgo: 45))
        let alert = Alert(
            rule: "weight", priority: .orange, summary: "Weight +4 kg within 5 days", reasons: ["Weight +4 kg within 5 days"],
            code: AnswerValue.Coding(system: "http://loinc.org", code: "29463-7", display: "Body weight"))
        resources.append(FlagBuilder.flag(for: alert, patientID: patientID, trigger: "Observation/x", at: now))
        try await Self.store(resources, in: server, at: now)
        let anna = JourneyClient(server: server, email: "anna@example.org", password: Self.nursePassword, kiosk: true)
        let age = try #require(Age.years(birthDate: "1946-03-14", at: now, zone: .current))
        #expect(try await run(anna, credentialSteps + """
            expect "Alerts (1)"
            press Enter
            expect "\(age) years · tel. +31 6 1234 5601 · programme: heart failure"
            press o
            expect "Marie Jansen: overview"
            expect "84 kg"
            expect "▁▃▅▆█"
            expect "150/90 mmHg"
            expect "37.2 °C"
            expect "none yet"
            expect "Open alerts (1)"
            expect "Weight +4 kg within 5 days"
            expect "No answers yet."
            press Esc
            expect "• Weight +4 kg within 5 days"
            """))
        await anna.core.lock()
        await server.stop()
    }

    @Test("end to end: a patient's app syncs a red blood pressure; the kiosk shows it within one refresh; the nurse handles it")
    func patientToKiosk() async throws {
        let (server, _) = try await Self.serverWithAlert()
        let patient = JourneyClient(server: server, email: "ruth@example.org", password: "patient-lantern-orbit-42")
        let anna = JourneyClient(server: server, email: "anna@example.org", password: Self.nursePassword, kiosk: true)
        #expect(try await run(anna, credentialSteps + "expect \"Alerts (1)\"\nexpect \"1 red · 0 orange · 0 gray\""))
        #expect(try await run(patient, loginSteps + """

            press a
            press 1
            type "186"
            press Tab
            type "96"
            press Enter
            expect "Saved"
            sync
            expect "all sent"
            """))
        // One refresh later (10 s), the kiosk has it, most urgent and newest at the end of the red ones.
        #expect(try await run(anna, """
            tick 10s
            expect "Alerts (2)"
            expect "2 red · 0 orange · 0 gray"
            expect "Systolic blood pressure 186 mmHg"
            press Down
            press Enter
            expect "• Systolic blood pressure 186 mmHg (≥ 180)"
            expect "Blood pressure, last 30 days: 186–186 mmHg"
            press h
            type "Rang Ruth: no symptoms, GP tomorrow"
            press Enter
            expect "Saved."
            expect "Alerts (1)"
            """))
        let flags = try await server.store.read { db in
            var query = ResourceQuery(type: "Flag")
            query.statuses = ["inactive"]
            return try db.search(query).resources
        }
        #expect(flags.count == 1)
        let handled = try #require(flags.first.flatMap { JSONParser.parseOrNil($0.json) })
        #expect(handled["code"]?["text"]?.stringValue == "Systolic blood pressure 186 mmHg (≥ 180)")
        #expect(FlagTriage.notes(handled).map(\.text) == ["Rang Ruth: no symptoms, GP tomorrow"])
        await patient.core.lock()
        await anna.core.lock()
        await server.stop()
    }

    @Test("m shows only the patients the nurse is responsible for (named on the Patient by team add --responsible); the whole team's again on m")
    func myPatients() async throws {
        let (server, _) = try await Self.serverWithAlert()
        let otto = try #require(try await server.administration.addUser(
            email: "otto@example.org", role: .patient, password: "patient-lantern-orbit-42", name: "Otto Second").patientID)
        try await server.administration.addTeamMember(clinicianEmail: "anna@example.org", patientEmail: "otto@example.org")
        try await server.administration.addTeamMember(clinicianEmail: "anna@example.org", patientEmail: "ruth@example.org", responsible: true)
        let alert = Alert(
            rule: "systolic", priority: .orange, summary: "Systolic blood pressure 165 mmHg (≥ 160)", reasons: ["Systolic blood pressure 165 mmHg (≥ 160)"],
            code: AnswerValue.Coding(system: "http://loinc.org", code: "8480-6", display: "Systolic blood pressure"))
        let flag = FlagBuilder.flag(for: alert, patientID: otto, trigger: "Patient/\(otto)", at: server.clock.now())
        try await server.store.write { db in try db.put(FHIRService.stamp(flag, type: .flag, id: "otto-flag", version: 1, at: server.clock.now())) }
        let ruthPatient = try #require(try await server.store.read { db in
            try db.resource(type: "Patient", id: try db.account(email: "ruth@example.org")?.patientID ?? "")
        }.flatMap { JSONParser.parseOrNil($0.json) })
        #expect(ruthPatient["generalPractitioner"]?.arrayValue?.first?["display"]?.stringValue == "Nurse Anna")

        let anna = JourneyClient(server: server, email: "anna@example.org", password: Self.nursePassword, kiosk: true)
        #expect(try await run(anna, credentialSteps + """
            expect "Alerts (2)"
            expect "Otto Second"
            press m
            expect "Alerts (1)"
            expect "Showing: all priorities, open, my patients only"
            expect "Ruth Example"
            press m
            expect "Alerts (2)"
            expect "Otto Second"
            """))
        // Nurse Ben is in Ruth's team but not responsible: none of his.
        let ben = JourneyClient(server: server, email: "ben@example.org", password: Self.nursePassword, kiosk: true)
        #expect(try await run(ben, credentialSteps + """
            expect "Alerts (1)"
            press m
            expect "Alerts (0)"
            """))
        await anna.core.lock()
        await ben.core.lock()
        await server.stop()
    }

    @Test("more alerts than a page (1,000): the queue reads every page; a refresh asks only for changes, a quiet one is a 304, and a new alert joins")
    func manyAlerts() async throws {
        let (server, _) = try await Self.serverWithAlert()
        let ruth = try #require(try await server.store.read { db in try db.account(email: "ruth@example.org") }?.patientID)
        func addAlerts(_ range: Range<Int>, priority: @escaping @Sendable (Int) -> AlertPriority) async throws {
            let now = server.clock.now()
            try await server.store.write { db in
                for index in range {
                    let alert = Alert(
                        rule: "bench-\(index)", priority: priority(index), summary: "Alert \(index)", reasons: ["Alert \(index)"],
                        code: AnswerValue.Coding(system: nil, code: nil, display: "Alert"))
                    let flag = FlagBuilder.flag(for: alert, patientID: ruth, trigger: "Patient/\(ruth)", at: now - Int64(index) * 1000)
                    try db.put(FHIRService.stamp(flag, type: .flag, id: UUID().uuidString.lowercased(), version: 1, at: now))
                }
            }
        }
        try await addAlerts(0..<1_050) { $0 % 3 == 0 ? .orange : .gray }
        let anna = JourneyClient(server: server, email: "anna@example.org", password: Self.nursePassword, kiosk: true)
        #expect(try await run(anna, credentialSteps + """
            expect "Alerts (1051)"
            expect "1 red · 350 orange · 700 gray"
            tick 40s
            tick 10s
            tick 10s
            expect "Alerts (1051)"
            """))
        await server.running.flushAudit()
        let quiet = try await server.store.read { db in try db.auditEvents(after: 0, limit: 100_000) }.map(\.event)
            .filter { $0.action == "search" && $0.resourceType == "Flag" && $0.httpStatus == 304 }
        #expect(quiet.count >= 1, "a quiet refresh is answered 304")
        try await addAlerts(2_000..<2_001) { _ in .red }
        #expect(try await run(anna, """
            tick 10s
            expect "Alerts (1052)"
            expect "2 red · 350 orange · 700 gray"
            """))
        await anna.core.lock()
        await server.stop()
    }
}
