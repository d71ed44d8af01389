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
        let bundle = PatientDataExport.bundle(
            measurements: [Self.pressure], responses: [response], patientID: "p1", server: "https://ehr.example", now: 1_795_000_000_000,
            newUUID: { "0b7e2c1a-5d3f-4e8a-9c21-7f6d5e4c3b2a" })
        #expect(bundle["type"]?.stringValue == "collection" && bundle["timestamp"]?.stringValue == "2026-11-18T11:06:40.000Z")
        let entries = bundle["entry"]?.arrayValue ?? []
        #expect(entries.count == 2)
        #expect(entries.first?["resource"]?["id"]?.stringValue == "obs-1")
        #expect(entries.first?["fullUrl"]?.stringValue == "https://ehr.example/fhir/Observation/obs-1", "the server's address of what it holds")
        #expect(entries.last?["fullUrl"]?.stringValue == "urn:uuid:0b7e2c1a-5d3f-4e8a-9c21-7f6d5e4c3b2a", "a response without a server id")
        #expect(entries.first?["resource"]?["subject"]?["reference"]?.stringValue == "Patient/p1")
        #expect(entries.last?["resource"] == response)
    }

    @Test("CSV: values by their part, not their place; a pulse taken with a blood pressure is a heart-rate row of its own")
    func csvPartsAndPulse() {
        // Stored as another system sent them: diastolic first, then the pulse, then systolic.
        let reading = MeasurementRecord(
            id: "1f0c2b3a-4d5e-4f60-8a71-92b3c4d5e6f7", kind: .bloodPressure,
            values: [.init(part: .diastolic, literal: "85"), .init(part: .pulseInPanel, literal: "72"), .init(part: .systolic, literal: "135")],
            effectiveAt: 1_795_000_000_000, utcOffsetSeconds: 3600, syncState: .rejected)
        let lines = PatientDataExport.csv([reading]).components(separatedBy: "\r\n")
        #expect(lines.count == 4, "header, the pressure, its pulse, and the final line end: \(lines)")
        #expect(lines[1] == "2026-11-18T12:06:40+01:00,blood-pressure,85354-9,135,mm[Hg],85,mm[Hg],,rejected", "\(lines[1])")
        #expect(lines[2] == "2026-11-18T12:06:40+01:00,heart-rate,8867-4,72,/min,,,,rejected", "\(lines[2])")
    }

    @Test("CSV: glucose carries the code of its own unit (2339-0 for mg/dL, 15074-8 for mmol/L)")
    func csvGlucoseCode() {
        let mass = MeasurementRecord(
            id: "2a1b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", kind: .glucose, values: [.init(part: .glucoseMass, literal: "110")],
            effectiveAt: 1_795_000_000_000, utcOffsetSeconds: 0)
        var molar = mass
        molar.values = [.init(part: .glucoseMolar, literal: "6.1")]
        let lines = PatientDataExport.csv([mass, molar]).components(separatedBy: "\r\n")
        #expect(lines[1] == "2026-11-18T11:06:40+00:00,glucose,2339-0,110,mg/dL,,,,pending", "\(lines[1])")
        #expect(lines[2].contains(",glucose,15074-8,6.1,mmol/L,"), "\(lines[2])")
    }

    @Test("FHIR: a fullUrl is always a valid URI: the server's address, the reading's own urn:uuid, or a new one for an id that is not a UUID")
    func fullURLs() {
        func reading(id: String, serverID: String?, state: MeasurementRecord.SyncState) -> MeasurementRecord {
            MeasurementRecord(
                id: id, kind: .bloodPressure, values: Self.pressure.values, effectiveAt: Self.pressure.effectiveAt, utcOffsetSeconds: 3600,
                syncState: state, serverID: serverID)
        }
        let fromServer = reading(id: "server-obs-9", serverID: "obs-9", state: .synced)
        let odd = reading(id: "server-x", serverID: nil, state: .pending)
        var local = Self.pressure
        local.serverID = nil
        local.syncState = .pending
        let entries = [fromServer, odd, local].map {
            PatientDataExport.entry(for: $0, patientID: "p1", server: "https://ehr.example/", newUUID: { "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d" })
        }
        #expect(entries[0]["fullUrl"]?.stringValue == "https://ehr.example/fhir/Observation/obs-9")
        #expect(entries[0]["resource"]?["id"]?.stringValue == "obs-9")
        #expect(entries[1]["fullUrl"]?.stringValue == "urn:uuid:6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d", "server-x is not a UUID")
        #expect(entries[1]["resource"]?["identifier"] == nil, "no urn:uuid identifier made of a non-UUID")
        #expect(entries[2]["fullUrl"]?.stringValue == "urn:uuid:8c1f5e2a-0b1d-4c6e-9a51-3f2d7f0e9a11")
        for entry in entries {
            let url = entry["fullUrl"]?.stringValue ?? ""
            #expect(url.hasPrefix("https://") || UUIDText.isValid(String(url.dropFirst("urn:uuid:".count))), "\(url)")
        }
    }

    @Test("FHIR: a reading the server refused is preliminary and tagged rejected; a withdrawn one entered-in-error; the rest final")
    func refusedReadings() {
        func resource(_ state: MeasurementRecord.SyncState) -> JSONValue? {
            var record = Self.pressure
            record.syncState = state
            return PatientDataExport.entry(for: record, patientID: "p1", server: "https://ehr.example", newUUID: { "" })["resource"]
        }
        let refused = resource(.rejected)
        #expect(refused?["status"]?.stringValue == "preliminary")
        let tag = refused?["meta"]?["tag"]?.arrayValue?.first
        #expect(tag?["system"]?.stringValue == PatientDataExport.syncStateSystem && tag?["code"]?.stringValue == "rejected")
        #expect(refused?["meta"]?["profile"] != nil, "the profile is kept beside the tag")
        #expect(resource(.withdrawn)?["status"]?.stringValue == "entered-in-error")
        #expect(resource(.synced)?["status"]?.stringValue == "final" && resource(.synced)?["meta"]?["tag"] == nil)
        #expect(resource(.pending)?["status"]?.stringValue == "final")
    }

    @Test("FHIR, a piece at a time: no entries is a Bundle without `entry` (FHIR forbids empty arrays); entries are one a line")
    func bundleStream() throws {
        let empty = PatientDataExport.BundleStream(now: 0)
        let parsed = try JSONParser.parse(empty.head + empty.finish())
        #expect(parsed["resourceType"]?.stringValue == "Bundle" && parsed["entry"] == nil)
        var stream = PatientDataExport.BundleStream(now: 0)
        var bytes = stream.head
        for index in 0..<3 { bytes += stream.add(JSONValue.object(["fullUrl": .string("urn:uuid:\(index)")]).serialized()) }
        bytes += stream.finish()
        let bundle = try JSONParser.parse(bytes)
        #expect(bundle["entry"]?.arrayValue?.count == 3)
        #expect(String(decoding: bytes, as: UTF8.self).split(separator: "\n").count == 5)
    }
}
