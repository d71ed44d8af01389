/// A nurse's decision about an alert, as it is written into the FHIR Flag: handled (status inactive),
/// escalated and snoozed (extensions, as DESIGN.md says), and every note kept as an Annotation with who
/// and when. The server stores each as a new version (If-Match) and audits who changed it.
public enum TriageAction: Sendable, Equatable {
    /// Dealt with: the Flag becomes inactive.
    case handle
    /// Passed up (to a doctor): stays active, marked escalated.
    case escalate
    /// Out of the queue until then (epoch milliseconds), then back.
    case snooze(until: Int64)
    /// Only a note.
    case note
}

public enum FlagTriage {
    public static let escalatedURL = BedsideExtension.flagEscalated.url
    public static let snoozedUntilURL = BedsideExtension.flagSnoozedUntil.url
    public static let noteURL = BedsideExtension.flagNote.url

    /// The Flag after `action`, with `note` (if any) added by `author` at `time`.
    public static func apply(_ action: TriageAction, note: String?, by author: String, at time: Int64, to flag: JSONValue) -> JSONValue {
        var object = flag.objectValue ?? [:]
        var extensions = object["extension"]?.arrayValue ?? []
        let stamp = FHIRDateTime.format(epochMilliseconds: time)
        func remove(_ url: String) { extensions.removeAll { $0["url"]?.stringValue == url } }
        switch action {
        case .handle:
            object["status"] = "inactive"
            var period = object["period"]?.objectValue ?? [:]
            period["end"] = .string(stamp)
            object["period"] = .object(period)
            remove(snoozedUntilURL)
        case .escalate:
            remove(escalatedURL)
            extensions.append(["url": .string(escalatedURL), "valueBoolean": true])
            remove(snoozedUntilURL)
        case .snooze(let until):
            remove(snoozedUntilURL)
            extensions.append(["url": .string(snoozedUntilURL), "valueDateTime": .string(FHIRDateTime.format(epochMilliseconds: until))])
        case .note:
            break
        }
        let text = note?.trimmingCharacters(in: " ") ?? ""
        if !text.isEmpty {
            extensions.append([
                "url": .string(noteURL),
                "valueAnnotation": ["authorString": .string(author), "time": .string(stamp), "text": .string(text)],
            ])
        }
        object["extension"] = .array(extensions)
        return .object(object)
    }

    public static func isEscalated(_ flag: JSONValue) -> Bool {
        (flag["extension"]?.arrayValue ?? []).contains { $0["url"]?.stringValue == escalatedURL && $0["valueBoolean"]?.boolValue == true }
    }

    public static func snoozedUntil(_ flag: JSONValue) -> Int64? {
        (flag["extension"]?.arrayValue ?? []).first { $0["url"]?.stringValue == snoozedUntilURL }?["valueDateTime"]?.stringValue
            .flatMap(FHIRDateTime.init)?.lowerBound
    }

    /// Notes, oldest first: (author, time, text).
    public static func notes(_ flag: JSONValue) -> [(author: String, time: Int64?, text: String)] {
        (flag["extension"]?.arrayValue ?? []).filter { $0["url"]?.stringValue == noteURL }.compactMap { entry in
            guard let annotation = entry["valueAnnotation"], let text = annotation["text"]?.stringValue else { return nil }
            return (annotation["authorString"]?.stringValue ?? "", annotation["time"]?.stringValue.flatMap(FHIRDateTime.init)?.lowerBound, text)
        }
    }

    /// The decisions a new version of a Flag records against the one before, as the audit names them:
    /// `flag-handled`, `flag-escalated`, `flag-snoozed`, `flag-note` (a note added with any of them).
    public static func decisions(from before: JSONValue, to after: JSONValue) -> [String] {
        var decisions: [String] = []
        if before["status"]?.stringValue == "active", after["status"]?.stringValue == "inactive" { decisions.append("flag-handled") }
        if !isEscalated(before), isEscalated(after) { decisions.append("flag-escalated") }
        if let until = snoozedUntil(after), until != snoozedUntil(before) { decisions.append("flag-snoozed") }
        if notes(after).count > notes(before).count { decisions.append("flag-note") }
        return decisions
    }
}
