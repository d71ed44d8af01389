@testable import BedsideApp
import BedsideCore
@testable import BedsideServerKit
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideHeadless

/// The public Observations of Tests/Fixtures/Observations (the FHIR specification's examples, US Core,
/// ISiK) held by the server for one patient: the patient's app and the nurse's kiosk both keep working
/// and show what they understand of them (their acceptance over the wire is ObservationCorpusTests').
@Suite("Public Observations in the app and the kiosk", .serialized)
struct PublicObservationsJourneyTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fixtures/Observations").standardized

    /// Every corpus file, checked as the server checks an upload and made the patient's.
    static func corpus(for patientID: String, now: Int64) throws -> [JSONValue] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count >= 30)
        return try files.map { file in
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            var object = try #require(JSONParser.parseOrNil(Array(data))?.objectValue, "\(file)")
            object["subject"] = ["reference": .string("Patient/\(patientID)")]
            // Some examples share an identifier, which the server keeps unique per patient.
            object["identifier"] = nil
            let resource = JSONValue.object(object)
            try FHIRService.validate(resource, type: .observation, now: now)
            return resource
        }
    }

    @Test("the patient's app lists and shows them (a date-only reading by its day, pounds in kg); the kiosk's overview shows each kind's latest")
    func appAndKiosk() async throws {
        let server = try await journeyServer()
        let password = "patient-lantern-orbit-42"
        let marie = try await server.administration.addUser(email: "marie@example.org", role: .patient, password: password, name: "Marie Jansen")
        _ = try await server.administration.addUser(email: "anna@example.org", role: .clinician, password: KioskTests.nursePassword, name: "Nurse Anna")
        try await server.administration.addTeamMember(clinicianEmail: "anna@example.org", patientEmail: "marie@example.org")
        let patientID = try #require(marie.patientID)
        let now = server.clock.now()
        var resources = try Self.corpus(for: patientID, now: now)
        let alert = Alert(
            rule: "weight", priority: .orange, summary: "Weight +4 kg within 5 days", reasons: ["Weight +4 kg within 5 days"],
            code: AnswerValue.Coding(system: "http://loinc.org", code: "29463-7", display: "Body weight"))
        resources.append(FlagBuilder.flag(for: alert, patientID: patientID, trigger: "Observation/x", at: now))
        try await KioskTests.store(resources, in: server, at: now)

        let patient = JourneyClient(server: server, email: "marie@example.org", password: password)
        let patientRun = await patient.runner.run(try ScriptParser.parse(loginSteps + """

            expect "Weight              79 kg             11 Oct 2020"
            expect "Oxygen saturation   98 %              11 Oct 2020"
            expect "Blood sugar         6.3 mmol/L        2 Apr 2013 09:30"
            press h
            expect "History: Blood pressure  (1 of 5)"
            expect "17 Sep 2012         107/60 mmHg"
            expect "107/? mmHg"
            press Right
            expect "History: Weight  (1 of 3)"
            expect "11 Oct 2020         79 kg"
            expect "28 Mar 2016         83.9 kg"
            """, name: "corpus-app"))
        if patientRun.failed > 0 { Issue.record("\(patient.output.joined(separator: "\n"))") }

        let anna = JourneyClient(server: server, email: "anna@example.org", password: KioskTests.nursePassword, kiosk: true)
        let kioskRun = await anna.runner.run(try ScriptParser.parse(credentialSteps + """
            expect "Alerts (1)"
            press Enter
            press o
            expect "Marie Jansen: overview"
            expect "107/"
            expect "79 kg"
            expect "98 %"
            expect "6.3 mmol/L"
            expect "Open alerts (1)"
            """, name: "corpus-kiosk"))
        if kioskRun.failed > 0 { Issue.record("\(anna.output.joined(separator: "\n"))") }
        await anna.core.lock()
        await server.stop()
    }
}
