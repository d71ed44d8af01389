import BedsideCore
import BedsideSync
import Foundation

/// What this computer holds of the patient's, for an export.
public struct PatientExportData: Sendable {
    public var patientID: String
    /// The server the account belongs to (its base), for the `fullUrl` of what it holds.
    public var server: String
    /// Oldest first.
    public var measurements: [MeasurementRecord]
    /// Finished QuestionnaireResponses.
    public var responses: [JSONValue]
}

/// Writes an export, from this computer's data or from what the server sent, in either format: the one
/// place the command line and the app turn data into an export's bytes.
public enum PatientExportWriter {
    /// Records per write, so a large export is not one string in memory twice.
    static let chunk = 1000

    static func newUUID() -> String { UUID().uuidString.lowercased() }

    /// This computer's data.
    public static func write(_ data: PatientExportData, format: PatientDataExport.Format, to sink: any ExportSink, now: Int64) throws(ExportFileError) {
        switch format {
        case .csv:
            try sink.write(Array((PatientDataExport.csvHeader + "\r\n").utf8))
            for start in stride(from: 0, to: data.measurements.count, by: chunk) {
                let rows = data.measurements[start..<min(start + chunk, data.measurements.count)].flatMap(PatientDataExport.csvRows)
                try sink.write(Array(rows.map { $0 + "\r\n" }.joined().utf8))
            }
        case .fhir:
            var stream = PatientDataExport.BundleStream(now: now)
            try sink.write(stream.head)
            for record in data.measurements {
                try sink.write(stream.add(
                    PatientDataExport.entry(for: record, patientID: data.patientID, server: data.server, newUUID: newUUID).serialized()))
            }
            for response in data.responses {
                try sink.write(stream.add(PatientDataExport.entry(resource: response, server: data.server, newUUID: newUUID).serialized()))
            }
            try sink.write(stream.finish())
        }
    }

    /// What a server export wrote.
    public struct ServerCounts: Sendable, Equatable {
        public var measurements = 0
        public var responses = 0
        /// Observations of kinds Bedside does not read: in the FHIR Bundle as they are, not in the CSV.
        public var notInCSV = 0
    }

    /// The server's resources kept in `state`, each once: in FHIR as the server holds them (its address
    /// as `fullUrl`), in CSV read as measurements by the same reader the sync uses and written as the
    /// local export writes them, oldest first.
    public static func write(
        _ state: ServerExportState, server: String, format: PatientDataExport.Format, to sink: any ExportSink, now: Int64
    ) throws -> ServerCounts {
        var counts = ServerCounts()
        switch format {
        case .fhir:
            var stream = PatientDataExport.BundleStream(now: now)
            try sink.write(stream.head)
            try state.forEachResource { type, id, json in
                if type == "Observation" { counts.measurements += 1 } else { counts.responses += 1 }
                let head = "{\"fullUrl\":" + JSONValue.string(PatientDataExport.fullURL(server: server, type: type, id: id)).serializedString()
                    + ",\"resource\":"
                try sink.write(stream.add(Array(head.utf8) + json + [UInt8(ascii: "}")]))
            }
            try sink.write(stream.finish())
        case .csv:
            var records: [MeasurementRecord] = []
            try state.forEachResource { type, _, json in
                guard type == "Observation" else { return }
                if let resource = try? JSONParser.parse(Array(json)), let record = ObservationReader.record(from: resource) {
                    records.append(record)
                } else {
                    counts.notInCSV += 1
                }
            }
            records.sort { ($0.effectiveAt, $0.id) < ($1.effectiveAt, $1.id) }
            counts.measurements = records.count
            try write(
                PatientExportData(patientID: "", server: server, measurements: records, responses: []), format: .csv, to: sink, now: now)
        }
        return counts
    }
}
