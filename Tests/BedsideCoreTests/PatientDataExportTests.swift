import Testing

@testable import BedsideCore

@Suite("A patient's own export (CSV and FHIR)")
struct PatientDataExportTests {
    static let pressure = MeasurementRecord(
        id: "8c1f5e2a-0b1d-4c6e-9a51-3f2d7f0e9a11", kind: .bloodPressure,
        values: [.init(part: .systolic, literal: "135"), .init(part: .diastolic, literal: "85")],
        effectiveAt: 1_795_000_000_000, utcOffsetSeconds: 3600, syncState: .synced, serverID: "obs-1", serverVersion: 1)

    @Test("CSV: the documented header, CRLF rows, quoting where a field holds a comma, quote or line break, and formulas made inert")
    func csv() {
        let noted = MeasurementRecord(
            id: "9d2a6f3b-1c2e-4d7f-8b62-4e3f8a1fab22", kind: .bodyWeight, values: [.init(part: .bodyWeight, literal: "82.4")],
            effectiveAt: 1_795_000_060_000, utcOffsetSeconds: -18_000, note: "@home, \"after\"\nbreakfast")
        let text = PatientDataExport.csv([Self.pressure, noted])
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines[0] == "time,kind,code,value,unit,value2,unit2,note,state")
        #expect(lines[1] == "2026-11-18T12:06:40+01:00,blood-pressure,85354-9,135,mm[Hg],85,mm[Hg],,synced", "\(lines[1])")
        #expect(lines[2] == "2026-11-18T06:07:40-05:00,weight,29463-7,82.4,kg,,,\"'@home, \"\"after\"\"\nbreakfast\",pending", "\(lines[2])")
        #expect(text.hasSuffix("\r\n"))
        #expect(PatientDataExport.csv([]) == "time,kind,code,value,unit,value2,unit2,note,state\r\n")
        for formula in ["=1+1", "+1", "-1", "@x", "\tx"] { #expect(PatientDataExport.inert(formula).hasPrefix("'")) }
        #expect(PatientDataExport.inert("fine") == "fine")
        var dayOnly = Self.pressure
        dayOnly.timePrecision = .day
        #expect(PatientDataExport.csv([dayOnly]).components(separatedBy: "\r\n")[1].hasPrefix("2026-11-18,blood-pressure,"), "a day stays a day")
    }

    @Test("FHIR: a collection Bundle, the Observation with the server's id once synced, each response as kept")
    func bundle() {
        let response: JSONValue = ["resourceType": "QuestionnaireResponse", "status": "completed"]
        let bundle = PatientDataExport.bundle(measurements: [Self.pressure], responses: [response], patientID: "p1", now: 1_795_000_000_000)
        #expect(bundle["type"]?.stringValue == "collection" && bundle["timestamp"]?.stringValue == "2026-11-18T11:06:40.000Z")
        let entries = bundle["entry"]?.arrayValue ?? []
        #expect(entries.count == 2)
        #expect(entries.first?["resource"]?["id"]?.stringValue == "obs-1")
        #expect(entries.first?["fullUrl"]?.stringValue == "urn:uuid:8c1f5e2a-0b1d-4c6e-9a51-3f2d7f0e9a11")
        #expect(entries.first?["resource"]?["subject"]?["reference"]?.stringValue == "Patient/p1")
        #expect(entries.last?["resource"] == response)
    }
}
