import BedsideCore

/// The export screen: which format, and the file to create.
public struct ExportForm: Sendable, Equatable {
    public var format: PatientDataExport.Format
    public var path: TextField
    /// The day in the default file name (`YYYY-MM-DD`, the patient's today).
    var day: String

    public init(format: PatientDataExport.Format = .csv, day: String) {
        self.format = format
        self.day = day
        path = TextField(Self.defaultPath(format: format, day: day), maxLength: 1024)
    }

    /// `~/bedside-export-2026-01-15.csv`: in the home directory, named by the day, ending as the format.
    public static func defaultPath(format: PatientDataExport.Format, day: String) -> String {
        "~/bedside-export-\(day).\(format.fileExtension)"
    }

    /// The other format; the offered name follows it while the patient has not changed it.
    mutating func switchFormat() {
        let offered = path.text == Self.defaultPath(format: format, day: day)
        format = format == .csv ? .fhir : .csv
        if offered { path = TextField(Self.defaultPath(format: format, day: day), maxLength: path.maxLength) }
    }
}
