/// A patient's own data taken with them (GDPR art. 20): their measurements and questionnaire responses
/// as one FHIR R4 `collection` Bundle, or their measurements as CSV any spreadsheet reads.
public enum PatientDataExport {
    /// What `bedside export --format` and the app's export offer.
    public enum Format: String, Sendable, CaseIterable, Equatable {
        case fhir, csv

        /// The file name ending a saved export gets by default.
        public var fileExtension: String { self == .csv ? "csv" : "json" }
    }

    public static let csvHeader = "time,kind,code,value,unit,value2,unit2,note,state"

    /// `meta.tag` system of an exported Observation the server refused (see `sync-state` in docs/client.md).
    public static let syncStateSystem = "https://bedside.example/fhir/CodeSystem/sync-state"

    /// The state column: where a measurement stands on its way to the care team.
    public static func stateName(_ state: MeasurementRecord.SyncState) -> String {
        switch state {
        case .pending: "pending"
        case .synced: "synced"
        case .rejected: "rejected"
        case .withdrawn: "withdrawn"
        }
    }

    /// One row per measurement, in the order given, RFC 4180 (CRLF line ends, quoted where needed).
    /// Times are ISO 8601 with their offset (a reading known only by its day: the day, without an offset).
    /// Each value is placed by its part, never by its position: blood pressure is value (systolic) and
    /// value2 (diastolic) under the panel's code, and a pulse taken with it is a heart-rate row of its own
    /// (same time, same state); other kinds carry the code of their value's own part (glucose in mg/dL is
    /// 2339-0, in mmol/L 15074-8).
    public static func csv(_ records: [MeasurementRecord]) -> String {
        var lines = [csvHeader]
        lines.reserveCapacity(records.count + 1)
        for record in records { lines += csvRows(record) }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// The CSV rows of one measurement (two for a blood pressure taken with its pulse), without line ends.
    public static func csvRows(_ record: MeasurementRecord) -> [String] {
        let state = stateName(record.syncState)
        let note = inert(record.note ?? "")
        func row(_ kind: MeasurementKind, _ code: String, _ first: ObservationBuilder.Value?, _ second: ObservationBuilder.Value?, note: String)
            -> String
        {
            [
                record.effectiveAsKnown, kind.rawValue, code, first?.literal ?? "", first?.part.ucumCode ?? "", second?.literal ?? "",
                second?.part.ucumCode ?? "", note, state,
            ].map(quoted).joined(separator: ",")
        }
        func value(_ part: MeasurementPart) -> ObservationBuilder.Value? { record.values.first { $0.part == part } }
        guard record.kind == .bloodPressure else {
            let first = record.values.first
            return [row(record.kind, first?.part.loincCode ?? record.kind.loincCodes.first ?? "", first, nil, note: note)]
        }
        var rows = [row(.bloodPressure, record.kind.loincCodes.first ?? "", value(.systolic), value(.diastolic), note: note)]
        if let pulse = value(.pulseInPanel) { rows.append(row(.heartRate, MeasurementPart.heartRate.loincCode, pulse, nil, note: "")) }
        return rows
    }

    /// A field as CSV writes it: in quotes (inner quotes doubled) when it holds a comma, a quote or a line break.
    static func quoted(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A note a spreadsheet must not run: text starting as a formula (`=`, `+`, `-`, `@`, tab, CR) gets a
    /// leading apostrophe, the usual defence against CSV injection.
    static func inert(_ note: String) -> String {
        guard let first = note.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) else { return note }
        return "'" + note
    }

    /// A `collection` Bundle: an Observation per measurement and each finished QuestionnaireResponse, as
    /// they would be sent; `timestamp` is when it was made. `server` is the FHIR server's base (without
    /// `/fhir`), for the `fullUrl` of what it holds; `newUUID` makes a `urn:uuid` for the rest whose id is
    /// not one.
    public static func bundle(
        measurements: [MeasurementRecord], responses: [JSONValue], patientID: String, server: String, now: Int64,
        newUUID: () -> String
    ) -> JSONValue {
        var entries: [JSONValue] = []
        entries.reserveCapacity(measurements.count + responses.count)
        for record in measurements { entries.append(entry(for: record, patientID: patientID, server: server, newUUID: newUUID)) }
        for response in responses { entries.append(entry(resource: response, server: server, newUUID: newUUID)) }
        var bundle = BundleStream(now: now)
        var bytes = bundle.head
        for entry in entries { bytes += bundle.add(entry.serialized()) }
        bytes += bundle.finish()
        return (try? JSONParser.parse(bytes)) ?? .null
    }

    /// The Bundle entry of one measurement: its Observation, with the server's id once it has one.
    ///
    /// A withdrawn measurement is `entered-in-error`. One the server refused stays in (it is the patient's
    /// own reading) but as `preliminary`, tagged `sync-state|rejected`: it never became part of the care
    /// team's record, and a reader must be able to tell.
    public static func entry(for record: MeasurementRecord, patientID: String, server: String, newUUID: () -> String) -> JSONValue {
        let status: String =
            switch record.syncState {
            case .withdrawn: "entered-in-error"
            case .rejected: "preliminary"
            case .pending, .synced: "final"
            }
        var observation = ObservationBuilder.observation(
            kind: record.kind, values: record.values, effective: record.effectiveAsKnown, patientID: patientID,
            clientID: UUIDText.isValid(record.id) ? record.id : nil, note: record.note, status: status
        ).objectValue ?? [:]
        if let serverID = record.serverID, FHIRSyntax.isValidID(serverID) { observation["id"] = .string(serverID) }
        if record.syncState == .rejected {
            var meta = observation["meta"]?.objectValue ?? [:]
            meta["tag"] = [
                [
                    "system": .string(syncStateSystem), "code": "rejected",
                    "display": "Refused by the server: not part of the care team's record",
                ]
            ]
            observation["meta"] = .object(meta)
        }
        let fullUrl = observation["id"] != nil ? fullURL(server: server, type: "Observation", id: record.serverID ?? "")
            : "urn:uuid:" + (UUIDText.isValid(record.id) ? record.id.lowercased() : newUUID())
        return ["fullUrl": .string(fullUrl), "resource": .object(observation)]
    }

    /// The Bundle entry of a resource as it is (a QuestionnaireResponse, or a resource the server holds):
    /// its address on the server when it has a valid id there, else a new `urn:uuid`.
    public static func entry(resource: JSONValue, server: String, newUUID: () -> String) -> JSONValue {
        if let type = resource["resourceType"]?.stringValue, let id = resource["id"]?.stringValue, FHIRSyntax.isValidID(id), !server.isEmpty {
            return ["fullUrl": .string(fullURL(server: server, type: type, id: id)), "resource": resource]
        }
        return ["fullUrl": .string("urn:uuid:" + newUUID()), "resource": resource]
    }

    /// `<server>/fhir/<type>/<id>`: where the server keeps the resource.
    public static func fullURL(server: String, type: String, id: String) -> String {
        var base = server
        while base.hasSuffix("/") { base.removeLast() }
        if !base.hasSuffix("/fhir") { base += "/fhir" }
        return "\(base)/\(type)/\(id)"
    }

    /// Writes a `collection` Bundle a piece at a time, so an export of any size is never held whole:
    /// `head`, then `add` for each entry (compact JSON, one a line), then `finish`. FHIR JSON allows no
    /// empty array, so a Bundle without entries has no `entry` at all.
    public struct BundleStream: Sendable {
        public let head: [UInt8]
        private var entries = 0

        public init(now: Int64) {
            var head = JSONValue.object([
                "resourceType": "Bundle", "type": "collection", "timestamp": .string(FHIRDateTime.format(epochMilliseconds: now)),
            ]).serialized()
            head.removeLast()  // reopened: the entries follow
            self.head = head
        }

        /// The bytes that put one serialized entry into the Bundle.
        public mutating func add(_ entry: [UInt8]) -> [UInt8] {
            entries += 1
            return Array((entries == 1 ? ",\"entry\":[\n" : ",\n").utf8) + entry
        }

        public var count: Int { entries }

        /// The bytes that close the Bundle.
        public func finish() -> [UInt8] { Array((entries == 0 ? "}\n" : "\n]}\n").utf8) }
    }
}

/// The text form of a UUID (`8c1f5e2a-0b1d-4c6e-9a51-3f2d7f0e9a11`), as `urn:uuid:` needs it.
public enum UUIDText {
    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) || (0x41...0x46).contains(byte) else { return false }
            }
        }
        return true
    }
}
