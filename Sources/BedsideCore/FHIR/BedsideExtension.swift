/// Every FHIR extension Bedside defines, in one table: its URL (used wherever the extension is read or
/// written), where it may appear, the type of its value, and what it means. From it come the
/// StructureDefinitions the server serves at `/fhir/StructureDefinition/[id]` (and `docs/fhir/` ships),
/// and the check of each such extension on input.
public struct BedsideExtension: Sendable, Equatable {
    /// The StructureDefinition's id, the last part of the URL.
    public let id: String
    /// The resource type it extends.
    public let context: String
    /// The value element, e.g. `valueBoolean`.
    public let valueElement: String
    public let title: String
    public let meaning: String

    public static let base = "https://bedside.example/fhir/StructureDefinition/"

    public var url: String { Self.base + id }

    /// The FHIR data type of the value (`valueBoolean` holds a `boolean`).
    public var valueType: String {
        let name = String(valueElement.dropFirst("value".count))
        // Primitive types are written in lower case (boolean, dateTime, string, code); complex ones not.
        return ["Boolean", "DateTime", "String", "Code", "Integer"].contains(name) ? name.prefix(1).lowercased() + name.dropFirst() : name
    }

    public static let careProgramme = BedsideExtension(
        id: "care-programme", context: "Patient", valueElement: "valueCode", title: "Care programme",
        meaning: "The care programme whose alert rules apply to the patient: default, heart-failure, copd or diabetes.")
    public static let alertRules = BedsideExtension(
        id: "alert-rules", context: "Patient", valueElement: "valueString", title: "The patient's own alert rules",
        meaning: "Alert rules of the patient's own, as JSON (see docs/server.md `rules set`); they replace the programme's.")
    public static let alertRule = BedsideExtension(
        id: "alert-rule", context: "Flag", valueElement: "valueString", title: "Alert rule",
        meaning: "Which rule raised the alert (one open Flag per patient and rule).")
    public static let flagEscalated = BedsideExtension(
        id: "flag-escalated", context: "Flag", valueElement: "valueBoolean", title: "Escalated",
        meaning: "A nurse escalated the alert.")
    public static let flagSnoozedUntil = BedsideExtension(
        id: "flag-snoozed-until", context: "Flag", valueElement: "valueDateTime", title: "Snoozed until",
        meaning: "The alert leaves the open queue until this time, when it comes back by itself.")
    public static let flagNote = BedsideExtension(
        id: "flag-note", context: "Flag", valueElement: "valueAnnotation", title: "Triage note",
        meaning: "A note on the alert with its author and time: why it was handled, escalated or snoozed, or what was done.")

    public static let notificationSubscription = BedsideExtension(
        id: "notification-subscription", context: "Meta", valueElement: "valueReference", title: "Notifying Subscription",
        meaning: "On a Subscription notification (a history Bundle's meta): the Subscription it was sent for.")
    public static let notificationEvent = BedsideExtension(
        id: "notification-event", context: "Meta", valueElement: "valueInteger", title: "Notification number",
        meaning: "On a Subscription notification (a history Bundle's meta): its number, counting from 1 per Subscription. A notification sent again keeps its resources' ids and versions; the number may differ.")

    public static let all: [BedsideExtension] = [
        careProgramme, alertRules, alertRule, flagEscalated, flagSnoozedUntil, flagNote, notificationSubscription, notificationEvent,
    ]

    public static func named(url: String) -> BedsideExtension? { all.first { $0.url == url } }

    public static func named(id: String) -> BedsideExtension? { all.first { $0.id == id } }

    /// The extension's StructureDefinition (FHIR R4): an Extension constrained to its context, its URL
    /// and one value of its type.
    public var structureDefinition: JSONValue {
        [
            "resourceType": "StructureDefinition",
            "id": .string(id),
            "url": .string(url),
            "name": .string(id.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()),
            "title": .string(title),
            "status": "active",
            "publisher": "Bedside",
            "description": .string(meaning),
            "fhirVersion": "4.0.1",
            "kind": "complex-type",
            "abstract": false,
            "context": [["type": "element", "expression": .string(context)]],
            "type": "Extension",
            "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
            "derivation": "constraint",
            "differential": [
                "element": [
                    ["id": "Extension", "path": "Extension", "short": .string(title), "definition": .string(meaning), "max": "1"],
                    ["id": "Extension.extension", "path": "Extension.extension", "max": "0"],
                    ["id": "Extension.url", "path": "Extension.url", "fixedUri": .string(url)],
                    ["id": "Extension.value[x]", "path": "Extension.value[x]", "min": 1, "type": [["code": .string(valueType)]]],
                ]
            ],
        ]
    }

    /// What is wrong with a Bedside extension on a resource of `type`, if anything: the wrong place, or a
    /// value of the wrong type or form. Nil for a good one, and for every extension Bedside does not define.
    public static func problem(with item: JSONValue, on type: String) -> String? {
        guard let url = item["url"]?.stringValue, let known = named(url: url) else { return nil }
        guard known.context == type else { return "\(known.id) belongs on a \(known.context), not a \(type)" }
        let values = (item.objectValue?.keys ?? []).filter { $0.hasPrefix("value") }
        guard values == [known.valueElement], let value = item[known.valueElement] else {
            return "\(known.id) needs one \(known.valueElement)"
        }
        switch known.valueElement {
        case "valueBoolean": if value.boolValue == nil { return "\(known.id).valueBoolean must be true or false" }
        case "valueDateTime": if value.stringValue.flatMap(FHIRDateTime.init) == nil { return "\(known.id).valueDateTime is not a FHIR dateTime" }
        case "valueAnnotation": if value["text"]?.stringValue?.isEmpty != false { return "\(known.id).valueAnnotation needs a text" }
        case "valueCode":
            if known == careProgramme, !VitalSignRules.programmeNames.contains(value.stringValue ?? "") {
                return "care-programme must be one of \(VitalSignRules.programmeNames.joined(separator: ", "))"
            }
        default: if value.stringValue == nil { return "\(known.id).\(known.valueElement) must be a string" }
        }
        return nil
    }
}
