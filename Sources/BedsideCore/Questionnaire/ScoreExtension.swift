/// The extensions that give an answer option (or a Coding, or a ValueSet concept) its score: SDC's
/// `itemWeight`, FHIR's `ordinalValue`, and the older `iso21090-CO-value`. The questionnaire model and
/// FHIRPath's `ordinal()`/`weight()` both read scores through this one place.
enum ScoreExtension {
    /// In order of preference, when an element carries more than one.
    static let urls = [
        "http://hl7.org/fhir/StructureDefinition/itemWeight",
        "http://hl7.org/fhir/StructureDefinition/ordinalValue",
        "http://hl7.org/fhir/StructureDefinition/iso21090-CO-value",
    ]

    /// The score on `json` as written, and whether it is an integer (else a decimal).
    static func number(on json: JSONValue) -> (value: JSONValue, isInteger: Bool)? {
        let extensions = json["extension"]?.arrayValue ?? []
        for url in urls {
            guard let found = extensions.first(where: { $0["url"]?.stringValue == url }) else { continue }
            if let decimal = found["valueDecimal"] { return (decimal, false) }
            if let integer = found["valueInteger"] { return (integer, true) }
        }
        return nil
    }
}
