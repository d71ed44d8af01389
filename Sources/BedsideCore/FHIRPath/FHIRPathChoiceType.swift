/// The FHIR R4 types a choice element `name[x]` can take, by the suffix they give its JSON name
/// (`valueCoding` → `Coding`, `valueDateTime` → `dateTime`).
enum FHIRPathChoiceType {
    /// Suffix → FHIR type name.
    private static let types: [String: String] = {
        let primitives = [
            "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id", "instant", "integer", "integer64",
            "markdown", "oid", "positiveInt", "string", "time", "unsignedInt", "uri", "url", "uuid",
        ]
        let complex = [
            "Address", "Age", "Annotation", "Attachment", "CodeableConcept", "CodeableReference", "Coding", "ContactPoint", "Count",
            "Distance", "Duration", "HumanName", "Identifier", "Money", "Period", "Quantity", "Range", "Ratio", "RatioRange",
            "Reference", "SampledData", "Signature", "Timing", "ContactDetail", "Contributor", "DataRequirement", "Expression",
            "ParameterDefinition", "RelatedArtifact", "TriggerDefinition", "UsageContext", "Dosage", "Meta",
        ]
        var table: [String: String] = [:]
        for name in primitives { table[name.prefix(1).uppercased() + name.dropFirst()] = name }
        for name in complex { table[name] = name }
        return table
    }()

    /// The type a choice suffix stands for, if it is one.
    static func typeName(forSuffix suffix: Substring) -> String? { types[String(suffix)] }

    /// The type a member name implies when it is the `value[x]` choice written out (`valueQuantity`),
    /// the one choice whose concrete names forms navigate directly.
    static func typeName(ofMember name: String) -> String? {
        guard name.count > 5, name.hasPrefix("value") else { return nil }
        return typeName(forSuffix: name.dropFirst(5))
    }

    /// FHIR primitive type names, for `is` and `ofType`.
    static let stringTypes: Set<String> = ["string", "code", "id", "uri", "url", "canonical", "oid", "uuid", "markdown", "base64Binary", "xhtml"]
    static let integerTypes: Set<String> = ["integer", "positiveInt", "unsignedInt", "integer64"]
    /// FHIR types that are Quantities.
    static let quantityTypes: Set<String> = ["Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity"]
}
