/// A patient's own data taken with them (GDPR art. 20): their measurements and questionnaire responses
/// as one FHIR R4 `collection` Bundle, or their measurements as CSV any spreadsheet reads.
public enum PatientDataExport {
    public static let csvHeader = "time,kind,code,value,unit,value2,unit2,note,state"

    /// The state column: where a measurement stands on its way to the care team.
    public static func stateName(_ state: MeasurementRecord.SyncState) -> String {
        switch state {
        case .pending: "pending"
        case .synced: "synced"
        case .rejected: "rejected"
        case .withdrawn: "withdrawn"
        }
    }

    /// One row per measurement, oldest first as given, RFC 4180 (CRLF line ends, quoted where needed).
    /// Times are ISO 8601 with their offset (a reading known only by its day: the day); blood pressure is value (systolic) and value2 (diastolic).
    public static func csv(_ records: [MeasurementRecord]) -> String {
        var lines = [csvHeader]
        lines.reserveCapacity(records.count + 1)
        for record in records {
            let first = record.values.first
            let second = record.values.count > 1 ? record.values[1] : nil
            let fields = [
                record.effectiveAsKnown, record.kind.rawValue, record.kind.loincCodes.first ?? "",
                first?.literal ?? "", first?.part.ucumCode ?? "", second?.literal ?? "", second?.part.ucumCode ?? "",
                inert(record.note ?? ""), stateName(record.syncState),
            ]
            lines.append(fields.map(quoted).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
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

    /// A `collection` Bundle: an Observation per measurement (the server's id once it has one) and each
    /// finished QuestionnaireResponse, as they would be sent; `timestamp` is when it was made.
    public static func bundle(measurements: [MeasurementRecord], responses: [JSONValue], patientID: String, now: Int64) -> JSONValue {
        var entries: [JSONValue] = []
        entries.reserveCapacity(measurements.count + responses.count)
        for record in measurements {
            var observation = ObservationBuilder.observation(
                kind: record.kind, values: record.values, effective: record.effectiveAsKnown, patientID: patientID, clientID: record.id,
                note: record.note, status: record.syncState == .withdrawn ? "entered-in-error" : "final")
            if let serverID = record.serverID, var object = observation.objectValue {
                object["id"] = .string(serverID)
                observation = .object(object)
            }
            entries.append(["fullUrl": .string("urn:uuid:\(record.id)"), "resource": observation])
        }
        for response in responses { entries.append(["resource": response]) }
        return [
            "resourceType": "Bundle", "type": "collection",
            "timestamp": .string(FHIRDateTime.format(epochMilliseconds: now)),
            "entry": .array(entries),
        ]
    }
}
