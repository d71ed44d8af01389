import BedsideCore

/// The rule for notes on an alert: append-only, and signed by the server.
///
/// A note is a nurse's record of a decision about a patient. A client could otherwise put any name on
/// it, or drop an earlier one by sending a version without it; both would make the record worthless.
enum FlagNotes {
    /// `after` with its new notes signed by `author` at `time`, provided every note of `before` is still
    /// there unchanged and in order; a 422 otherwise.
    static func appendOnly(before: JSONValue, after: JSONValue, author: String, at time: Int64) throws(ServerError) -> JSONValue {
        let isNote: (JSONValue) -> Bool = { $0["url"]?.stringValue == FlagTriage.noteURL }
        let earlier = (before["extension"]?.arrayValue ?? []).filter(isNote)
        guard var object = after.objectValue else { return after }
        let extensions = object["extension"]?.arrayValue ?? []
        let notes = extensions.filter(isNote)
        guard notes.count >= earlier.count, Array(notes.prefix(earlier.count)) == earlier else {
            throw .invalid(OperationOutcome(
                code: "business-rule", diagnostics: "Notes on an alert cannot be changed or removed; add a new note instead.",
                expression: "Flag.extension"))
        }
        var seen = 0
        let stamp = FHIRDateTime.format(epochMilliseconds: time)
        object["extension"] = .array(extensions.map { entry in
            guard isNote(entry) else { return entry }
            seen += 1
            guard seen > earlier.count else { return entry }
            let text = entry["valueAnnotation"]?["text"] ?? .string("")
            return ["url": .string(FlagTriage.noteURL), "valueAnnotation": ["authorString": .string(author), "time": .string(stamp), "text": text]]
        })
        return .object(object)
    }
}
